# hwc-ai-puller: makes the declared models real in Ollama, proves each one
# answers, keeps them current, and never fills the disk (docs/puller.md).
#
# `hwc.ai.models` declares the models; `hwc.ai.puller.*` sets how they are
# kept. The typed options feed `hwc.ai.puller.settings` through `mkDefault`,
# so any field of the rendered document can be overridden there. The
# document is checked by `hwc-ai-puller --check-config` at build time, so a
# malformed model name fails the build.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.puller;
  pkg = config.hwc.ai.package;
  net = import ./lib/net.nix;
  puller = import ./lib/puller.nix;
  daemon = (import ./lib/daemons.nix).puller;

  settingsLib = import ./settings.nix { inherit lib pkgs; };
  inherit (settingsLib) defaultsDeep defaultedField;

  modelType = types.submodule {
    options = {
      name = mkOption {
        type = types.str;
        example = "llama3.2:3b";
        description = "The model: `name[:tag]`, `namespace/name:tag` or `host/namespace/name:tag`.";
      };
      autoUpdate = mkOption {
        type = types.bool;
        default = false;
        description = "Re-pull on the update schedule; a new digest is logged and validated.";
      };
      validate = mkOption {
        type = types.bool;
        default = true;
        description = "After each pull, prove the model answers (one token, or one embedding).";
      };
    };
  };

  ollama = config.services.ollama;
  ollamaLocal = ollama.enable && net.isLoopback (net.hostOf cfg.ollamaUrl);

  listen = net.hostPort cfg.listenAddress cfg.port;

  document = puller.document {
    inherit listen;
    inherit (cfg)
      ollamaUrl
      keep
      prune
      maxConcurrentPulls
      ;
    models = config.hwc.ai.models;
    schedule = {
      inherit (cfg) updateInterval randomizedDelay;
    };
    disk = {
      inherit (cfg) minFree warnUsedRatio;
    };
  };

  checkedConfig = settingsLib.checked {
    daemon = "hwc-ai-puller";
    package = pkg;
    inherit (cfg) settings;
  };
in
{
  options.hwc.ai.models = mkOption {
    type = types.listOf (types.coercedTo types.str (name: { inherit name; }) modelType);
    default = [ ];
    example = lib.literalExpression ''
      [
        "llama3.2:3b"
        { name = "nomic-embed-text"; autoUpdate = true; }
      ]
    '';
    description = ''
      The models Ollama must hold, each pulled, validated and (with
      `autoUpdate`) kept current by hwc-ai-puller. A plain string is
      `{ name = ...; }`.
    '';
  };

  options.hwc.ai.puller = {
    enable = mkOption {
      type = types.bool;
      # nothing declared, nothing to keep: no daemon
      default = config.hwc.ai.enable && config.hwc.ai.models != [ ];
      defaultText = lib.literalExpression "config.hwc.ai.enable && config.hwc.ai.models != [ ]";
      description = "Whether to run hwc-ai-puller, which makes `hwc.ai.models` real in Ollama.";
    };

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      description = "Address of the puller's `/metrics`, `/health`, `/models` and `/reconcile`.";
    };

    port = mkOption {
      type = types.port;
      default = daemon.port;
      description = "Their port.";
    };

    ollamaUrl = mkOption {
      type = types.str;
      default = "http://${net.hostPort (net.reachable ollama.host) ollama.port}";
      defaultText = lib.literalExpression ''"http://''${services.ollama.host}:''${toString services.ollama.port}"'';
      description = "The Ollama to manage; the local `services.ollama` unless set.";
    };

    modelsDir = mkOption {
      type = types.str;
      default = ollama.models or "/var/lib/ollama/models";
      defaultText = lib.literalExpression "config.services.ollama.models";
      description = "Ollama's models directory; its file system is measured (read-only) for the disk checks.";
    };

    keep = defaultedField (types.listOf types.str) "none" "Models `prune` never deletes, declared or not.";

    prune = defaultedField types.bool "`false`" "Whether to delete models Ollama holds that are neither in `hwc.ai.models` nor in `keep`.";

    maxConcurrentPulls = defaultedField types.ints.positive "`1`" "Pulls at once.";

    updateInterval = defaultedField types.str "`1d`" "How often `autoUpdate` models are re-pulled.";

    randomizedDelay = defaultedField types.str "`1h`" "A random extra wait, up to this, before each update run.";

    minFree = defaultedField (types.either types.ints.unsigned types.str) "`\"5GiB\"`" ''
      The disk floor: no pull starts below it, and no layer starts unless it
      fits above it.
    '';

    warnUsedRatio = defaultedField types.float "`0.8`" "Warn when the models file system is fuller than this.";
  }
  // settingsLib.documentOptions {
    name = "puller";
    daemon = "hwc-ai-puller";
    configFile = checkedConfig;
    example = {
      log.level = "debug";
      retry.max = "1h";
    };
  };

  config = lib.mkIf cfg.enable {
    warnings = lib.optional (
      ollama.enable && (ollama.loadModels or [ ]) != [ ]
    ) "services.ollama.loadModels and hwc.ai.models both pull models; declare them in hwc.ai.models only";

    hwc.ai.puller.settings = defaultsDeep document;

    # probed by hwc-ai-prober (its /health turns a failed or invalid model
    # into an alert) and scraped by Prometheus
    hwc.ai.internal.daemons.hwc-ai-puller = {
      inherit (cfg.settings) listen;
    };

    systemd.services.hwc-ai-puller = puller.unit {
      binDir = "${pkg}/bin";
      inherit (cfg) configFile settings modelsDir limits;
      ollamaUnit = if ollamaLocal then "ollama.service" else null;
    };
  };
}
