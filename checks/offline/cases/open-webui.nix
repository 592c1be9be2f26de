# hwc.ai.open-webui with the router, the assistant and the MCP gateway,
# each holding a client key named `open-webui`: nixpkgs' services.open-webui
# is enabled and given the router and the assistant as OpenAI connections,
# one OpenAPI tool server per MCP server plus the assistant's, keys only
# through credentials, and a private, declarative environment; the prober
# follows its port.
{
  config = {
    hwc.ai = {
      enable = true;
      router.clientKeys.open-webui = "/run/secrets/router-key";
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        clientKeys.open-webui = "/run/secrets/assistant-key";
      };
      mcp = {
        servers.time.command = "mcp-server-time";
        clientKeys.open-webui = "/run/secrets/mcp-key";
      };
      open-webui = {
        enable = true;
        port = 3000;
      };
    };
  };

  expect =
    { config, lib }:
    let
      env = config.services.open-webui.environment;
      unit = config.systemd.services.open-webui;
      script = config.hwc.ai.open-webui.internal.envFileScript;
      hasKey = lib.any (v: lib.hasInfix "/run/secrets/" v) (lib.attrValues env);
    in
    [
      {
        what = "services.open-webui is enabled, on the given port";
        got = with config.services.open-webui; [ enable host port ];
        want = [ true "127.0.0.1" 3000 ];
      }
      {
        what = "the router, then the assistant, as OpenAI connections; Ollama only behind the router";
        got = {
          inherit (env) OPENAI_API_BASE_URLS ENABLE_OPENAI_API ENABLE_OLLAMA_API;
        };
        want = {
          OPENAI_API_BASE_URLS = "http://127.0.0.1:9432/v1;http://127.0.0.1:9434/v1";
          ENABLE_OPENAI_API = "True";
          ENABLE_OLLAMA_API = "False";
        };
      }
      {
        what = "declarative, private, embeddings through the router";
        got = {
          inherit (env)
            ENABLE_PERSISTENT_CONFIG OFFLINE_MODE HF_HUB_OFFLINE ENABLE_VERSION_UPDATE_CHECK
            ANONYMIZED_TELEMETRY DO_NOT_TRACK SCARF_NO_ANALYTICS RAG_EMBEDDING_ENGINE RAG_OPENAI_API_BASE_URL;
        };
        want = {
          ENABLE_PERSISTENT_CONFIG = "False";
          OFFLINE_MODE = "True";
          HF_HUB_OFFLINE = "1";
          ENABLE_VERSION_UPDATE_CHECK = "False";
          ANONYMIZED_TELEMETRY = "False";
          DO_NOT_TRACK = "True";
          SCARF_NO_ANALYTICS = "True";
          RAG_EMBEDDING_ENGINE = "openai";
          RAG_OPENAI_API_BASE_URL = "http://127.0.0.1:9432/v1";
        };
      }
      {
        what = "no key, no key-bearing variable in the store's environment";
        got = [
          hasKey
          (env ? OPENAI_API_KEYS)
          (env ? TOOL_SERVER_CONNECTIONS)
          (env ? RAG_OPENAI_API_KEY)
        ];
        want = [ false false false false ];
      }
      {
        what = "each key loaded as a credential";
        got = unit.serviceConfig.LoadCredential;
        want = [
          "open-webui-assistant-key:/run/secrets/assistant-key"
          "open-webui-router-key:/run/secrets/router-key"
          "open-webui-mcp-key:/run/secrets/mcp-key"
        ];
      }
      {
        what = "the environment file: written before start, read by the unit, in its runtime directory";
        got = {
          inherit (unit.serviceConfig) EnvironmentFile;
          writesIt = lib.hasInfix ''exec 3>"/run/open-webui/hwc-ai.env"'' script;
          private = lib.hasInfix "umask 077" script;
        };
        want = {
          EnvironmentFile = [ "-/run/open-webui/hwc-ai.env" ];
          writesIt = true;
          private = true;
        };
      }
      {
        what = "TOOL_SERVER_CONNECTIONS: the MCP server through the bridge, then the assistant's tools, keys as credentials";
        got = builtins.fromJSON (
          builtins.head (builtins.match ".*v='(\\[[^']*])'.*" script)
        );
        want = [
          {
            type = "openapi";
            url = "http://127.0.0.1:9433/openapi/time";
            path = "openapi.json";
            auth_type = "bearer";
            key = "@credential:open-webui-mcp-key@";
            config.enable = true;
            info = {
              id = "mcp-time";
              name = "time";
              description = "MCP server `time` through hwc-ai-mcp";
            };
          }
          {
            type = "openapi";
            url = "http://127.0.0.1:9434/tools";
            path = "openapi.json";
            auth_type = "bearer";
            key = "@credential:open-webui-assistant-key@";
            config.enable = true;
            info = {
              id = "hwc-ai-assistant";
              name = "hwc-ai-assistant";
              description = "Read-only views of this machine (hwc-ai-assistant)";
            };
          }
        ];
      }
      {
        what = "OPENAI_API_KEYS: the router's key, then the assistant's";
        got = lib.hasInfix "v='@credential:open-webui-router-key@;@credential:open-webui-assistant-key@'" script;
        want = true;
      }
      {
        what = "started after the daemons it talks to";
        got = unit.after;
        want = [ "hwc-ai-router.service" "hwc-ai-assistant.service" "hwc-ai-mcp.service" ];
      }
      {
        what = "the prober's Open WebUI target follows the port";
        got = lib.filter (t: t.kind == "open-webui") config.hwc.ai.prober.settings.targets;
        want = [
          {
            name = "open-webui";
            kind = "open-webui";
            url = "http://127.0.0.1:3000";
          }
        ];
      }
    ];
}
