# Models declared: hwc-ai-puller runs, bound to the local Ollama, on a
# loopback-only sandbox with a read-only view of the models directory, and
# the prober and Prometheus find it.
{
  config = {
    hwc.ai = {
      enable = true;
      models = [
        "llama3.2:3b"
        {
          name = "nomic-embed-text";
          autoUpdate = true;
        }
      ];
      puller = {
        minFree = "10GiB";
        updateInterval = "12h";
        settings.log.level = "debug";
      };
    };
    services.prometheus.enable = true;
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-puller;
      settings = config.hwc.ai.puller.settings;
    in
    [
      {
        what = "the rendered document";
        got = settings;
        want = {
          listen = "127.0.0.1:9431";
          ollamaUrl = "http://127.0.0.1:11434";
          models = [
            {
              name = "llama3.2:3b";
              autoUpdate = false;
              validate = true;
            }
            {
              name = "nomic-embed-text";
              autoUpdate = true;
              validate = true;
            }
          ];
          # keep, prune, maxConcurrentPulls and the randomized delay unset:
          # the puller's own defaults
          schedule.updateInterval = "12h";
          disk = {
            path = "/run/hwc-ai-puller/ollama-models";
            minFree = "10GiB";
          };
          stateFile = "/var/lib/hwc-ai-puller/state.json";
          log.level = "debug";
        };
      }
      {
        what = "the config is checked with --check-config at build time";
        got = lib.hasInfix "/bin/hwc-ai-puller --check-config --config /nix/store/00000000000000000000000000000000-hwc-ai-puller.json" config.hwc.ai.puller.configFile.buildCommand;
        want = true;
      }
      {
        what = "ordered after and bound to the local Ollama, started with it";
        got = {
          after = lib.elem "ollama.service" unit.after;
          inherit (unit) bindsTo;
          BindsTo = unit.unitConfig.BindsTo;
          wantedBy = unit.wantedBy;
        };
        want = {
          after = true;
          bindsTo = [ "ollama.service" ];
          BindsTo = "ollama.service";
          wantedBy = [
            "multi-user.target"
            "ollama.service"
          ];
        };
      }
      {
        what = "Type=notify with a watchdog, loopback only, state and models paths";
        got = {
          inherit (unit.serviceConfig)
            Type
            WatchdogSec
            IPAddressDeny
            IPAddressAllow
            StateDirectory
            BindReadOnlyPaths
            ProtectSystem
            DynamicUser
            ;
        };
        want = {
          Type = "notify";
          WatchdogSec = "30s";
          IPAddressDeny = "any";
          IPAddressAllow = [ "localhost" ];
          StateDirectory = "hwc-ai-puller";
          BindReadOnlyPaths = [ "-/var/lib/ollama/models:/run/hwc-ai-puller/ollama-models" ];
          ProtectSystem = "strict";
          DynamicUser = true;
        };
      }
      {
        what = "the prober checks the puller's /health";
        got = lib.filter (t: t.name == "hwc-ai-puller") config.hwc.ai.prober.settings.targets;
        want = [
          {
            name = "hwc-ai-puller";
            kind = "hwc-ai";
            url = "http://127.0.0.1:9431";
          }
        ];
      }
      {
        what = "Prometheus scrapes the puller";
        # as nixpkgs writes them to prometheus.yml: the unset (null) fields dropped
        got = map (lib.filterAttrsRecursive (_: v: v != null)) (lib.filter (c: c.job_name == "hwc-ai-puller") config.services.prometheus.scrapeConfigs);
        want = [
          {
            job_name = "hwc-ai-puller";
            static_configs = [
              {
                targets = [ "127.0.0.1:9431" ];
                labels = { };
              }
            ];
          }
        ];
      }
    ];
}
