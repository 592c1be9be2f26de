# An old name without a counterpart fails the build and says what to do.
{
  config = {
    hwc.ai.enable = true;
    hwc.server.ai.open-webui.ollamaEndpoint = "http://127.0.0.1:11434";
    hwc.server.ai.mcp.enable = true;
  };

  failedAssertions = [
    "hwc.server.ai.open-webui.ollamaEndpoint"
    "hwc.ai.open-webui.ollama.keepNativeConnection"
    "Declare each MCP server in hwc.ai.mcp.servers"
  ];

  expect = { config, lib }: [ ];
}
