# hwc.ai.open-webui's choices: Open WebUI's own Ollama connection kept, the
# MCP servers through Open WebUI's native MCP client, an operator's tool
# servers, persistent config; services.open-webui.enable set by the
# operator wins; a key path that is not absolute is named.
{
  config = {
    hwc.ai = {
      enable = true;
      router.enable = false;
      mcp.servers.time.command = "mcp-server-time";
      open-webui = {
        enable = true;
        host = "0.0.0.0";
        ollama.keepNativeConnection = true;
        tools.mcp.protocol = "mcp";
        tools.extra = [
          {
            name = "searxng";
            url = "http://127.0.0.1:8000";
            keyFile = "secrets/searxng";
          }
          {
            name = "notes";
            type = "mcp";
            url = "http://127.0.0.1:8001/mcp";
          }
        ];
        persistentConfig = true;
        environment.WEBUI_NAME = "Homelab AI";
      };
    };
    services.open-webui.enable = false;
  };

  failedAssertions = [ "hwc.ai.open-webui.tools.extra.searxng.keyFile: `secrets/searxng` is not an absolute path" ];

  expect =
    { config, lib }:
    let
      env = config.services.open-webui.environment;
      script = config.hwc.ai.open-webui.internal.envFileScript;
    in
    [
      {
        what = "the operator's services.open-webui.enable wins";
        got = config.services.open-webui.enable;
        want = false;
      }
      {
        what = "Ollama's own connection kept; no router: no OpenAI connection, no RAG through it";
        got = {
          inherit (env) ENABLE_OLLAMA_API OLLAMA_BASE_URL ENABLE_OPENAI_API ENABLE_PERSISTENT_CONFIG WEBUI_NAME;
          rag = env ? RAG_EMBEDDING_ENGINE;
        };
        want = {
          ENABLE_OLLAMA_API = "True";
          OLLAMA_BASE_URL = "http://127.0.0.1:11434";
          ENABLE_OPENAI_API = "False";
          ENABLE_PERSISTENT_CONFIG = "True";
          WEBUI_NAME = "Homelab AI";
          rag = false;
        };
      }
      {
        what = "the MCP server natively, then the operator's servers";
        got = map (c: { inherit (c) type url path auth_type; id = c.info.id; }) (
          builtins.fromJSON (builtins.head (builtins.match ".*v='(\\[[^']*])'.*" script))
        );
        want = [
          { type = "mcp"; url = "http://127.0.0.1:9433/mcp/time"; path = ""; auth_type = "none"; id = "mcp-time"; }
          { type = "openapi"; url = "http://127.0.0.1:8000"; path = "openapi.json"; auth_type = "bearer"; id = "searxng"; }
          { type = "mcp"; url = "http://127.0.0.1:8001/mcp"; path = ""; auth_type = "none"; id = "notes"; }
        ];
      }
      {
        what = "the operator's key is read from its credential; nixpkgs' unit, switched off, is left alone";
        got = [
          (lib.hasInfix "$(key open-webui-tool-searxng)" script)
          (config.systemd.services ? open-webui)
        ];
        want = [ true false ];
      }
    ];
}
