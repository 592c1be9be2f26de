# `hwc.ai.enable = true`: hwc-ai-router runs on loopback in front of the
# local Ollama, every model routed to it, nothing leaving the host; the
# prober and Prometheus find it. Aliases are routes to Ollama's models.
{
  config = {
    hwc.ai = {
      enable = true;
      router = {
        aliases.local-fast = "llama3.2:3b";
        settings.log.level = "debug";
      };
    };
    services.prometheus.enable = true;
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-router;
    in
    [
      {
        what = "the rendered document";
        got = config.hwc.ai.router.settings;
        want = {
          listen = "127.0.0.1:9432";
          log.level = "debug";
          clients = {
            keys = [ ];
            allowUnauthenticatedLoopback = true;
          };
          backends = [
            {
              name = "ollama";
              kind = "openai-compatible";
              baseUrl = "http://127.0.0.1:11434/v1";
              listModels = true;
            }
          ];
          routes = [
            {
              model = "local-fast";
              targets = [
                {
                  backend = "ollama";
                  model = "llama3.2:3b";
                }
              ];
            }
            {
              model = "*";
              targets = [ { backend = "ollama"; } ];
            }
          ];
        };
      }
      {
        what = "ExecStart runs the router on the checked config";
        got = unit.serviceConfig.ExecStart;
        want = "/nix/store/00000000000000000000000000000000-hwc-ai/bin/hwc-ai-router --config /nix/store/00000000000000000000000000000000-hwc-ai-router.json";
      }
      {
        what = "the config is checked with --check-config at build time";
        got = lib.hasInfix "/bin/hwc-ai-router --check-config --config /nix/store/00000000000000000000000000000000-hwc-ai-router.json" config.hwc.ai.router.configFile.buildCommand;
        want = true;
      }
      {
        what = "Type=notify with a watchdog, no credentials, loopback only";
        got = {
          inherit (unit.serviceConfig)
            Type
            NotifyAccess
            WatchdogSec
            Restart
            TimeoutStopSec
            IPAddressDeny
            IPAddressAllow
            LoadCredential
            RestrictAddressFamilies
            ;
        };
        want = {
          Type = "notify";
          NotifyAccess = "main";
          WatchdogSec = "30s";
          Restart = "on-failure";
          TimeoutStopSec = "15s";
          IPAddressDeny = "any";
          IPAddressAllow = [ "localhost" ];
          LoadCredential = [ ];
          RestrictAddressFamilies = [
            "AF_INET"
            "AF_INET6"
            "AF_UNIX"
          ];
        };
      }
      {
        what = "the hardening baseline is applied unchanged";
        got = lib.filterAttrs (k: v: unit.serviceConfig.${k} or null != v) (import ../../../modules/lib/hardening.nix);
        want = { };
      }
      {
        what = "ordered after Ollama, not bound to it; started at boot";
        got = {
          inherit (unit) after wantedBy;
          bound = unit.unitConfig ? BindsTo;
        };
        want = {
          after = [
            "network-online.target"
            "ollama.service"
          ];
          wantedBy = [ "multi-user.target" ];
          bound = false;
        };
      }
      {
        what = "the prober checks the router's /health";
        got = lib.filter (t: t.name == "hwc-ai-router") config.hwc.ai.prober.settings.targets;
        want = [
          {
            name = "hwc-ai-router";
            kind = "hwc-ai";
            url = "http://127.0.0.1:9432";
          }
        ];
      }
      {
        what = "Prometheus scrapes the router";
        # as nixpkgs writes them to prometheus.yml: the unset (null) fields dropped
        got = map (lib.filterAttrsRecursive (_: v: v != null)) (lib.filter (c: c.job_name == "hwc-ai-router") config.services.prometheus.scrapeConfigs);
        want = [
          {
            job_name = "hwc-ai-router";
            static_configs = [
              {
                targets = [ "127.0.0.1:9432" ];
                labels = { };
              }
            ];
          }
        ];
      }
      {
        what = "the firewall stays closed";
        got = config.networking.firewall.allowedTCPPorts;
        want = [ ];
      }
    ];
}
