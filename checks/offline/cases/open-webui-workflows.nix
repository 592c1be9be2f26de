# hwc.ai.open-webui with the assistant's workflows declared: after the
# assistant's tools, its workflows are a tool server of their own
# (`/workflows`, one operation per workflow), with the same key.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        clientKeys.open-webui = "/run/secrets/assistant-key";
        settings.workflows.daily = {
          kind = "journal";
          output.journal = true;
        };
      };
      open-webui.enable = true;
    };
  };

  expect =
    { config, lib }:
    let
      script = config.hwc.ai.open-webui.internal.envFileScript;
      servers = builtins.fromJSON (builtins.head (builtins.match ".*v='(\\[[^']*])'.*" script));
    in
    [
      {
        what = "TOOL_SERVER_CONNECTIONS: the assistant's tools, then its workflows";
        got = map (s: { inherit (s) url key; id = s.info.id; }) servers;
        want = [
          {
            url = "http://127.0.0.1:9434/tools";
            key = "@credential:open-webui-assistant-key@";
            id = "hwc-ai-assistant";
          }
          {
            url = "http://127.0.0.1:9434/workflows";
            key = "@credential:open-webui-assistant-key@";
            id = "hwc-ai-workflows";
          }
        ];
      }
    ];
}
