# Ollama, through nixpkgs' own `services.ollama`: hwc-ai turns it on and
# suggests a package, host and port (`mkDefault`), and leaves every
# `services.ollama.*` option to the user: `services.ollama.package =
# pkgs.ollama-cuda` or `services.ollama.host = "0.0.0.0"` win over hwc-ai's.
# Everything that talks to Ollama (the prober's target, the puller's
# ollamaUrl, the router's backend) reads the effective
# `config.services.ollama.host`/`port` back.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.hwc.ai.ollama;

  # hwc.ai.ollama.<name> set by the operator (not its default) and
  # services.ollama.<name> set to something else, which wins
  shadowed = lib.filter (
    name:
    options.hwc.ai.ollama.${name}.highestPrio < (lib.mkOptionDefault null).priority
    && cfg.${name} != config.services.ollama.${name}
  ) [ "host" "port" ];
in
{
  options.hwc.ai.ollama = {
    enable = mkOption {
      type = types.bool;
      default = config.hwc.ai.enable;
      defaultText = lib.literalExpression "config.hwc.ai.enable";
      description = "Whether to run Ollama (nixpkgs' `services.ollama`) as part of hwc-ai.";
    };

    package = lib.mkPackageOption pkgs "ollama" {
      example = "ollama-cuda";
    };

    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "[::]";
      description = "The address Ollama's HTTP API listens on: the default of `services.ollama.host`, which wins when set.";
    };

    port = mkOption {
      type = types.port;
      default = 11434;
      description = "The port Ollama's HTTP API listens on: the default of `services.ollama.port`, which wins when set.";
    };
  };

  config = lib.mkIf cfg.enable {
    warnings = map (
      name:
      "hwc.ai.ollama.${name} = ${builtins.toJSON cfg.${name}} is overridden by services.ollama.${name} = ${builtins.toJSON config.services.ollama.${name}}, which Ollama and hwc-ai use; set only one of them"
    ) shadowed;

    services.ollama = {
      enable = true;
      package = lib.mkDefault cfg.package;
      host = lib.mkDefault cfg.host;
      port = lib.mkDefault cfg.port;
    };
  };
}
