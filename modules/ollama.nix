# Ollama, through nixpkgs' own `services.ollama`: hwc-ai sets what it needs to
# know (where Ollama listens) and leaves every other `services.ollama.*`
# option to the user.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.hwc.ai.ollama;
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
      description = "The address Ollama's HTTP API listens on (`services.ollama.host`).";
    };

    port = mkOption {
      type = types.port;
      default = 11434;
      description = "The port Ollama's HTTP API listens on (`services.ollama.port`).";
    };
  };

  config = lib.mkIf cfg.enable {
    services.ollama = {
      enable = true;
      inherit (cfg) package host port;
    };
  };
}
