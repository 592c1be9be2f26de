# The environment modules/lib/open-webui.nix renders for Open WebUI in
# front of the stack on the given ports, as a NixOS host with
# `hwc.ai.open-webui` enabled and every daemon holding a client key named
# `open-webui` would give it: { environment; secretEnvironment;
# credentials; script } (script: the ExecStartPre= that writes `out`).
{
  routerPort,
  mcpPort,
  assistantPort,
  out,
  embeddingModel ? "nomic-embed-text",
}:
let
  owui = import ../../modules/lib/open-webui.nix;
  names = owui.credentialNames;
  url = port: "http://127.0.0.1:${port}";
  rendered = owui.render {
    router = {
      url = "${url routerPort}/v1";
      keyCredential = names.router;
    };
    assistant = {
      url = "${url assistantPort}/v1";
      keyCredential = names.assistant;
    };
    toolServers = [
      # what tools.mcp (protocol "openapi") renders for a server `shout`
      {
        id = "mcp-shout";
        name = "shout";
        type = "openapi";
        url = "${url mcpPort}/openapi/shout";
        keyCredential = names.mcp;
      }
      # what tools.assistant renders
      {
        id = "hwc-ai-assistant";
        name = "hwc-ai-assistant";
        type = "openapi";
        url = "${url assistantPort}/tools";
        keyCredential = names.assistant;
      }
      # what tools.assistant adds when workflows are declared
      {
        id = "hwc-ai-workflows";
        name = "hwc-ai-workflows";
        type = "openapi";
        url = "${url assistantPort}/workflows";
        keyCredential = names.assistant;
      }
      # what tools.mcp (protocol "mcp") renders for the same server
      {
        id = "mcp-shout-native";
        name = "shout (MCP)";
        type = "mcp";
        url = "${url mcpPort}/mcp/shout";
        keyCredential = names.mcp;
      }
    ];
    inherit embeddingModel;
  };
in
rendered
// {
  script = owui.envFileScript {
    inherit (rendered) secretEnvironment credentials;
    inherit out;
  };
}
