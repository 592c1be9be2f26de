# hwc-ai-prober: probes every AI service on an interval, exports Prometheus
# metrics, alerts on state changes (docs/prober.md).
#
# The typed options below feed `hwc.ai.prober.settings` through `mkDefault`,
# so any field of the rendered document can be overridden there. The
# document is checked by `hwc-ai-prober --check-config` at build time.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.prober;
  pkg = config.hwc.ai.package;
  net = import ./lib/net.nix;
  prober = import ./lib/prober.nix;
  util = import ./lib/util.nix;
  daemon = (import ./lib/daemons.nix).prober;

  settingsLib = import ./settings.nix { inherit lib pkgs; };
  inherit (settingsLib) defaultsDeep field defaultedField;
  settingsFormat = settingsLib.format;

  secretType = types.submodule {
    options = {
      file = field types.str "Absolute path of a file holding the secret, readable by the daemon.";
      credential = field types.str "Name of a systemd credential, declared in `hwc.ai.prober.credentials`.";
    };
  };

  targetType = types.submodule {
    options = {
      name = mkOption {
        type = types.str;
        example = "grafana";
        description = "The target's name: its metrics label and its name in logs and alerts. Unique.";
      };
      kind = mkOption {
        type = types.enum [
          "http"
          "tcp"
          "ollama"
          "open-webui"
          "hwc-ai"
        ];
        description = "What to probe and how (docs/prober.md, target kinds).";
      };
      url = field types.str "URL, for every kind but `tcp`.";
      address = field types.str "`host:port`, for kind `tcp`.";
      method = defaultedField types.str "`GET`" "HTTP method.";
      expectStatus = defaultedField (types.listOf types.int) "any 2xx" "Accepted HTTP statuses.";
      body = field settingsFormat.type ''
        A condition on the response body: `{ contains = s; }`, `{ regex = r; }`
        or `{ jsonPointer = p; equals = v; }`.
      '';
      headers = field (types.attrsOf types.str) "Extra request headers. Never secrets: use `bearerToken`.";
      bearerToken = field secretType "Sent as `Authorization: Bearer`.";
      tls = field (types.submodule {
        options = {
          caFile = field types.str "PEM file of the CA that signs the target's certificate.";
          insecureSkipVerify = field types.bool "Skip certificate verification.";
        };
      }) "TLS settings.";
      interval = field types.str "Overrides `hwc.ai.prober.interval`.";
      timeout = field types.str "Overrides `hwc.ai.prober.timeout`.";
      failureThreshold = field types.ints.positive "Overrides `hwc.ai.prober.failureThreshold`.";
      successThreshold = field types.ints.positive "Overrides `hwc.ai.prober.successThreshold`.";
    };
  };

  webhookType = types.submodule {
    options = {
      name = mkOption {
        type = types.str;
        description = "The webhook's name, in logs.";
      };
      url = field types.str "Where to POST alerts.";
      urlFrom = field secretType "The URL read from a secret (an ntfy topic URL is one).";
      format = defaultedField (types.enum [
        "json"
        "ntfy"
      ]) "`json`" "Body format: a JSON document, or ntfy's plain text with title and priority headers.";
      bearerToken = field secretType "Sent as `Authorization: Bearer`.";
      timeout = defaultedField types.str "`10s`" "Deadline of one delivery.";
      retries = defaultedField types.ints.unsigned "`5`" "Retries of a failed delivery, with backoff.";
    };
  };

  listen = net.hostPort cfg.listenAddress cfg.port;

  # Implied targets: what this configuration enables.
  discovered = prober.defaultTargets {
    ollama = if config.services.ollama.enable then { inherit (config.services.ollama) host port; } else null;
    openWebui =
      if config.services.open-webui.enable then { inherit (config.services.open-webui) host port; } else null;
    daemons = lib.filterAttrs (_: daemon: daemon.probe) config.hwc.ai.internal.daemons;
  };

  document = prober.document {
    inherit listen;
    inherit (cfg)
      interval
      timeout
      failureThreshold
      successThreshold
      ;
    targets = lib.optionals cfg.defaultTargets discovered ++ cfg.targets;
    webhooks = cfg.alerts.webhooks;
  };

  checkedConfig = settingsLib.checked {
    daemon = "hwc-ai-prober";
    package = pkg;
    inherit (cfg) settings;
  };

  missingCredentials = lib.filter (name: !(cfg.credentials ? ${name})) (
    util.credentialsUsed cfg.settings
  );
in
{
  # The options were `hwc.ai.health.*` before they took the daemon's name,
  # as every other daemon's do: each old name sets the new option and warns
  # at every build until the configuration uses the new one (nixpkgs'
  # mkRenamedOptionModule, as modules/migration.nix does for the older
  # `hwc.server.ai.*`). One alias per option: a rename of the whole
  # `hwc.ai.health` set would not carry its sub-options.
  imports =
    map
      (
        path:
        lib.mkRenamedOptionModule ([ "hwc" "ai" "health" ] ++ path) (daemon.option ++ path)
      )
      [
        [ "enable" ]
        [ "listenAddress" ]
        [ "port" ]
        [ "openFirewall" ]
        [ "interval" ]
        [ "timeout" ]
        [ "failureThreshold" ]
        [ "successThreshold" ]
        [ "defaultTargets" ]
        [ "targets" ]
        [ "alerts" "webhooks" ]
        [ "credentials" ]
        [ "settings" ]
      ];

  options.hwc.ai.prober = {
    enable = mkOption {
      type = types.bool;
      default = config.hwc.ai.enable;
      defaultText = lib.literalExpression "config.hwc.ai.enable";
      description = "Whether to run hwc-ai-prober, the health prober.";
    };

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "::";
      description = "Address of the prober's `/metrics` and `/health`.";
    };

    port = mkOption {
      type = types.port;
      default = daemon.port;
      description = "Port of the prober's `/metrics` and `/health`.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open `port` in the firewall (for a Prometheus on another host).";
    };

    interval =
      defaultedField types.str "`30s`" "Time between two probes of one target (each target adds jitter)."
      // {
        example = "10s";
      };

    timeout = defaultedField types.str "`5s`" "Whole-probe deadline: connect, headers and body.";

    failureThreshold = defaultedField types.ints.positive "`3`" "Consecutive failures that turn a target DOWN.";

    successThreshold = defaultedField types.ints.positive "`2`" "Consecutive successes that turn a target UP again.";

    defaultTargets = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether to probe what this configuration enables: Ollama
        (`services.ollama`), Open WebUI (`services.open-webui`) and every
        other hwc-ai daemon. `targets` adds to these.
      '';
    };

    targets = mkOption {
      type = types.listOf targetType;
      default = [ ];
      example = lib.literalExpression ''
        [
          {
            name = "grafana";
            kind = "http";
            url = "https://grafana.lan/api/health";
            bearerToken.credential = "grafana-token";
          }
          { name = "postgres"; kind = "tcp"; address = "127.0.0.1:5432"; }
        ]
      '';
      description = "Targets to probe besides the default ones (docs/prober.md).";
    };

    alerts.webhooks = mkOption {
      type = types.listOf webhookType;
      default = [ ];
      example = lib.literalExpression ''
        [ { name = "ntfy"; urlFrom.credential = "ntfy-url"; format = "ntfy"; } ]
      '';
      description = "Where to send an alert when a target changes state.";
    };

    credentials = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        grafana-token = "/run/secrets/grafana-token";
      };
      description = ''
        Secrets, as systemd credentials: name -> absolute path of a file on
        the host (`LoadCredential=name:path`). Refer to one from the config
        with `{ credential = "name"; }`. The file's content never enters the
        Nix store, and the daemon reads it from `$CREDENTIALS_DIRECTORY`.
      '';
    };
  }
  // settingsLib.documentOptions {
    name = "prober";
    daemon = "hwc-ai-prober";
    configFile = checkedConfig;
    example = {
      log.level = "debug";
      maxConcurrentProbes = 16;
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = missingCredentials == [ ];
        message = "hwc.ai.prober: credentials used but not declared in hwc.ai.prober.credentials: ${lib.concatStringsSep ", " missingCredentials}";
      }
    ]
    ++ lib.mapAttrsToList (name: path: {
      assertion = lib.hasPrefix "/" path;
      message = "hwc.ai.prober.credentials.${name}: `${path}` is not an absolute path";
    }) cfg.credentials;

    warnings = lib.mapAttrsToList (
      name: _: "hwc.ai.prober.credentials.${name} is in the Nix store, which every local user can read"
    ) (lib.filterAttrs (_: path: lib.hasPrefix "/nix/store/" path) cfg.credentials);

    hwc.ai.prober.settings = defaultsDeep document;

    # The prober is scraped like every daemon, but does not probe itself.
    hwc.ai.internal.daemons.hwc-ai-prober = {
      inherit (cfg.settings) listen;
      probe = false;
    };

    systemd.services.hwc-ai-prober = prober.unit {
      binDir = "${pkg}/bin";
      inherit (cfg) configFile settings credentials limits;
      # probe local services once they are up, not while they start
      after =
        lib.optional config.services.ollama.enable "ollama.service"
        ++ lib.optional config.services.open-webui.enable "open-webui.service";
    };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];
  };
}
