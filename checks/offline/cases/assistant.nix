# hwc-ai-assistant enabled with a key, the container socket and Home
# Assistant with actions: the document the daemon reads (checked by
# `hwc-ai-assistant --check-config` in run.sh), credentials for every
# secret, the unit's reads (journal, socket group) and its one writable
# place; the prober and Prometheus find it.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        clientKeys.open-webui = "/run/secrets/assistant-key";
        containers = {
          socket = "/run/docker.sock";
          group = "docker";
        };
        runbooks = "/etc/hwc-ai/runbooks";
        homeAssistant = {
          url = "https://ha.lan:8123";
          tokenFile = "/run/secrets/ha-token";
          actions = {
            enable = true;
            entities = [ "light.kitchen" ];
          };
        };
      };
    };
    services.prometheus.enable = true;
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-assistant;
    in
    [
      {
        what = "the rendered document";
        got = config.hwc.ai.assistant.settings;
        want = {
          listen = "127.0.0.1:9434";
          stateDirectory = "/var/lib/hwc-ai-assistant";
          clients = {
            keys = [
              {
                name = "open-webui";
                key.credential = "assistant-key-open-webui";
              }
            ];
            allowUnauthenticatedLoopback = true;
          };
          rateLimit = { };
          allowedOrigins = [ ];
          runbooks = "/etc/hwc-ai/runbooks";
          router = {
            url = "http://127.0.0.1:9432";
            model = "llama3.2:3b";
          };
          agent = { };
          sessions = { };
          containers.socket = "/run/docker.sock";
          # this host's Prometheus, for lack of an Alertmanager
          alerts.prometheusUrl = "http://127.0.0.1:9090";
          homeAssistant = {
            url = "https://ha.lan:8123";
            token.credential = "assistant-ha-token";
            actions = {
              enable = true;
              entities = [ "light.kitchen" ];
            };
          };
        };
      }
      {
        what = "its secrets arrive as credentials, its reads by group, its writes in the state directory only";
        got = {
          inherit (unit.serviceConfig)
            LoadCredential
            SupplementaryGroups
            StateDirectory
            ProtectSystem
            ProcSubset
            ProtectHome
            Type
            DynamicUser
            User
            ;
        };
        want = {
          LoadCredential = [
            "assistant-ha-token:/run/secrets/ha-token"
            "assistant-key-open-webui:/run/secrets/assistant-key"
          ];
          SupplementaryGroups = [
            "systemd-journal"
            "docker"
          ];
          StateDirectory = "hwc-ai-assistant";
          ProtectSystem = "strict";
          ProcSubset = "all";
          ProtectHome = "read-only";
          Type = "notify";
          # dbus-daemon drops dynamic users
          DynamicUser = false;
          User = "hwc-ai-assistant";
        };
      }
      {
        what = "probed and scraped";
        got = {
          probed = lib.any (t: t.name == "hwc-ai-assistant") config.hwc.ai.prober.settings.targets;
          scraped = lib.any (c: c.job_name == "hwc-ai-assistant") config.services.prometheus.scrapeConfigs;
        };
        want = {
          probed = true;
          scraped = true;
        };
      }
    ];
}
