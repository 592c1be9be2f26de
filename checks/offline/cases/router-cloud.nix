# OpenAI and Anthropic enabled, a LAN backend, client keys, the router on
# every address: the keys reach the unit as LoadCredential= and the document
# as credential names; tagged names stay local ahead of the cloud patterns;
# the IP filter is lifted (the providers' addresses are known only at run
# time).
{
  config.hwc.ai = {
    enable = true;
    cloud = {
      openai = {
        enable = true;
        apiKeyFile = "/run/secrets/openai-api-key";
        maxConcurrent = 4;
      };
      anthropic = {
        enable = true;
        apiKeyFile = "/run/secrets/anthropic-api-key";
        models = [ "claude-sonnet-*" ];
      };
    };
    router = {
      listenAddress = "0.0.0.0";
      openFirewall = true;
      allowUnauthenticatedLoopback = false;
      clientKeys = {
        open-webui = "/run/secrets/router-key-open-webui";
        bot = "/run/secrets/router-key-bot";
      };
      backends.gpu-box = {
        baseUrl = "http://10.0.0.5:11434/v1";
        remote = true;
        listModels = true;
      };
      aliases.smart = [
        {
          model = "qwen3:8b";
          firstByteTimeout = "20s";
        }
        {
          backend = "openai";
          model = "gpt-4o-mini";
        }
      ];
      routes = [
        {
          model = "llama3.1:70b";
          targets = [ { backend = "gpu-box"; } ];
        }
      ];
      profiles.custodian-triage-balanced = {
        targets = "qwen3:8b";
        temperature = 0.2;
        reasoningEffort = "medium";
        params.seed = 7;
      };
      profilesFile = "/etc/llm/profiles.json";
      debugRequests = true;
    };
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-router;
      settings = config.hwc.ai.router.settings;
      json = builtins.toJSON settings;
    in
    [
      {
        what = "a profile: its targets on the local Ollama, its defaults, nothing unset";
        got = settings.profiles;
        want = [
          {
            name = "custodian-triage-balanced";
            targets = [
              {
                backend = "ollama";
                model = "qwen3:8b";
              }
            ];
            temperature = 0.2;
            reasoningEffort = "medium";
            params.seed = 7;
            strictSchema = false;
          }
        ];
      }
      {
        what = "the profiles file: a credential the router finds through its environment; the debug log on";
        got = {
          file = lib.elem "router-profiles:/etc/llm/profiles.json" unit.serviceConfig.LoadCredential;
          env = unit.environment.HWC_AI_ROUTER_PROFILES_FILE;
          inherit (settings) debugRequests;
        };
        want = {
          file = true;
          env = "%d/router-profiles";
          debugRequests = true;
        };
      }
      {
        what = "backends: Ollama, the providers (remote, keys by credential), the LAN box";
        got = settings.backends;
        want = [
          {
            name = "ollama";
            kind = "openai-compatible";
            baseUrl = "http://127.0.0.1:11434/v1";
            listModels = true;
          }
          {
            name = "anthropic";
            kind = "anthropic";
            baseUrl = "https://api.anthropic.com/v1";
            remote = true;
            apiKey.credential = "anthropic-api-key";
          }
          {
            name = "openai";
            kind = "openai-compatible";
            baseUrl = "https://api.openai.com/v1";
            remote = true;
            apiKey.credential = "openai-api-key";
            maxConcurrent = 4;
          }
          {
            name = "gpu-box";
            kind = "openai-compatible";
            baseUrl = "http://10.0.0.5:11434/v1";
            remote = true;
            listModels = true;
          }
        ];
      }
      {
        what = "routes: alias, routes, tagged names local, cloud patterns, the rest local";
        got = map (r: r.model) settings.routes;
        want = [
          "smart"
          "llama3.1:70b"
          "*:*"
          "claude-sonnet-*"
          "gpt-*"
          "chatgpt-*"
          "o1*"
          "o3*"
          "o4*"
          "text-embedding-*"
          "*"
        ];
      }
      {
        what = "an alias's targets, unset fields left out";
        got = builtins.head settings.routes;
        want = {
          model = "smart";
          targets = [
            {
              backend = "ollama";
              model = "qwen3:8b";
              firstByteTimeout = "20s";
            }
            {
              backend = "openai";
              model = "gpt-4o-mini";
            }
          ];
        };
      }
      {
        what = "clients: named keys by credential, loopback not trusted";
        got = settings.clients;
        want = {
          keys = [
            {
              name = "bot";
              key.credential = "router-key-bot";
            }
            {
              name = "open-webui";
              key.credential = "router-key-open-webui";
            }
          ];
          allowUnauthenticatedLoopback = false;
        };
      }
      {
        what = "LoadCredential= for every key";
        got = unit.serviceConfig.LoadCredential;
        want = [
          "anthropic-api-key:/run/secrets/anthropic-api-key"
          "openai-api-key:/run/secrets/openai-api-key"
          "router-key-bot:/run/secrets/router-key-bot"
          "router-key-open-webui:/run/secrets/router-key-open-webui"
          "router-profiles:/etc/llm/profiles.json"
        ];
      }
      {
        what = "no secret path in the rendered JSON";
        got = lib.hasInfix "/run/secrets" json;
        want = false;
      }
      {
        what = "no IP filter: the providers are named by host name";
        got = unit.serviceConfig ? IPAddressDeny || unit.serviceConfig ? IPAddressAllow;
        want = false;
      }
      {
        what = "the rest of the sandbox stays";
        got = {
          inherit (unit.serviceConfig) DynamicUser ProtectSystem RestrictAddressFamilies;
        };
        want = {
          DynamicUser = true;
          ProtectSystem = "strict";
          RestrictAddressFamilies = [
            "AF_INET"
            "AF_INET6"
            "AF_UNIX"
          ];
        };
      }
      {
        what = "listening on every address, probed and scraped through loopback, port opened";
        got = {
          inherit (settings) listen;
          probed = (lib.findFirst (t: t.name == "hwc-ai-router") { } config.hwc.ai.prober.settings.targets).url or null;
          ports = config.networking.firewall.allowedTCPPorts;
        };
        want = {
          listen = "0.0.0.0:9432";
          probed = "http://127.0.0.1:9432";
          ports = [ 9432 ];
        };
      }
    ];
}
