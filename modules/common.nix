# What every hwc-ai area shares: the switch, the package, and the registry of
# running daemons that health checks and Prometheus scrapes are derived from.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.hwc.ai = {
    enable = lib.mkEnableOption "the hwc-ai local-AI stack (Ollama, health checks, metrics)";

    package = mkOption {
      type = types.package;
      description = ''
        The hwc-ai package, holding every `hwc-ai-*` binary. The flake's
        `nixosModules.default` sets it to its own build; set it yourself when
        importing `modules/` without the flake.
      '';
    };

    internal.daemons = mkOption {
      internal = true;
      visible = false;
      default = { };
      description = ''
        Every hwc-ai daemon this configuration runs, keyed by unit name. Each
        daemon's module adds itself here; `prober.nix` probes them and
        `prometheus.nix` scrapes them.
      '';
      type = types.attrsOf (
        types.submodule {
          options = {
            listen = mkOption {
              type = types.str;
              example = "127.0.0.1:9431";
              description = "The daemon's `/metrics` and `/health` address, `host:port`.";
            };
            probe = mkOption {
              type = types.bool;
              default = true;
              description = "Whether hwc-ai-prober checks this daemon's `/health`.";
            };
            scrape = mkOption {
              type = types.bool;
              default = true;
              description = "Whether Prometheus scrapes this daemon's `/metrics`.";
            };
          };
        }
      );
    };
  };

  config = lib.mkIf config.hwc.ai.enable {
    environment.systemPackages = [ config.hwc.ai.package ];
  };
}
