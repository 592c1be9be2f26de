# The old layout's names (`hwc.server.ai.*`, docs/migration.md), so an
# existing configuration evaluates while it is moved to `hwc.ai.*`.
#
# A name with a counterpart here is an alias (nixpkgs' mkRenamedOptionModule
# or, where the value changes shape, mkChangedOptionModule): it sets the new
# option and warns at every build until the configuration uses the new name.
# A name without one fails the build with what to do instead
# (mkRemovedOptionModule): silently ignoring it would change what runs.
{ lib, ... }:
let
  old = path: [
    "hwc"
    "server"
    "ai"
  ]
  ++ path;
  new = path: [
    "hwc"
    "ai"
  ]
  ++ path;
  renamed = from: to: lib.mkRenamedOptionModule (old from) (new to);
  # an old option whose value becomes one of Open WebUI's environment variables
  toEnvironment =
    from: variable: render:
    lib.mkChangedOptionModule (old from) (new [
      "open-webui"
      "environment"
      variable
    ]) (config: render (lib.getAttrFromPath (old from) config));
  removed = path: instead: lib.mkRemovedOptionModule (old path) "${instead} (docs/migration.md).";
in
{
  imports = [
    (renamed [ "ollama" "enable" ] [ "ollama" "enable" ])
    (renamed [ "ollama" "port" ] [ "ollama" "port" ])
    (renamed [ "ollama" "models" ] [ "models" ])
    (renamed [ "open-webui" "enable" ] [ "open-webui" "enable" ])
    (renamed [ "open-webui" "port" ] [ "open-webui" "port" ])
    (renamed [ "open-webui" "extraEnv" ] [ "open-webui" "environment" ])
    (toEnvironment [ "open-webui" "enableAuth" ] "WEBUI_AUTH" (on: if on then "True" else "False"))
    (toEnvironment [ "open-webui" "defaultModel" ] "DEFAULT_MODELS" (model: model))
    (toEnvironment [ "open-webui" "ragChunkSize" ] "CHUNK_SIZE" toString)
    (toEnvironment [ "open-webui" "ragOverlap" ] "CHUNK_OVERLAP" toString)

    (removed [ "ollama" "dataDir" ]
      "Ollama's models stay where nixpkgs' services.ollama keeps them (services.ollama.models); hwc.ai.puller.modelsDir is the directory whose disk the puller watches"
    )
    (removed [ "open-webui" "domain" ]
      "A reverse proxy in front of Open WebUI is yours to configure (e.g. services.caddy); hwc.ai.open-webui.host sets where Open WebUI listens"
    )
    (removed [ "open-webui" "ollamaEndpoint" ]
      "Open WebUI reaches Ollama's models through hwc-ai-router (hwc.ai.open-webui.router.url); hwc.ai.open-webui.ollama.keepNativeConnection keeps a direct connection to services.ollama"
    )
    (removed [ "open-webui" "dataDir" ]
      "Open WebUI keeps its data in services.open-webui.stateDir (nixpkgs' unit, /var/lib/open-webui)"
    )
    (removed [ "open-webui" "enableRAG" ]
      "Documents (RAG) are always on in Open WebUI; their embeddings come from the router's hwc.ai.open-webui.rag.embeddingModel"
    )
    (removed [ "open-webui" "imageTag" ]
      "Open WebUI is nixpkgs' package (services.open-webui.package), not a container image"
    )
    (removed [ "mcp" ]
      "Declare each MCP server in hwc.ai.mcp.servers.<name> (command or url); hwc-ai-mcp replaces mcp-proxy and serves them to Open WebUI"
    )
  ];
}
