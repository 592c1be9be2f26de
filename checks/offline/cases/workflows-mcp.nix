# A workflow with `mcpTools` on a host running hwc-ai-mcp: the assistant's
# document names the gateway of this host (`mcp.url`) and, when the
# gateway declares a client key for `hwc-ai-assistant`, that key as a
# credential of the assistant's unit.
{
  config.hwc.ai = {
    enable = true;
    assistant = {
      enable = true;
      router.model = "llama3.2:3b";
    };
    mcp = {
      port = 9533;
      allowUnauthenticatedLoopback = false;
      clientKeys.hwc-ai-assistant = "/run/secrets/mcp-key-assistant";
      servers.time.url = "http://127.0.0.1:8808/mcp";
    };
    workflows.clock = {
      kind = "prompt";
      prompt = "Say what time it is.";
      mcpTools = [
        {
          server = "time";
          tool = "get_current_time";
          arguments.timezone = "UTC";
        }
      ];
      output.journal = true;
    };
  };

  expect =
    { config, lib }:
    let
      settings = config.hwc.ai.assistant.settings;
      unit = config.systemd.services.hwc-ai-assistant;
    in
    [
      {
        what = "the gateway of this host and its key for the assistant";
        got = {
          inherit (settings) mcp;
          credential = builtins.elem "assistant-mcp-key:/run/secrets/mcp-key-assistant" unit.serviceConfig.LoadCredential;
        };
        want = {
          mcp = {
            url = "http://127.0.0.1:9533";
            apiKey.credential = "assistant-mcp-key";
          };
          credential = true;
        };
      }
    ];
}
