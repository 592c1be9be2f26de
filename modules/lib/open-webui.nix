# Open WebUI's environment for the stack (docs/open-webui.md), as pure
# functions.
#
# Plain Nix: no `pkgs`, no `lib`. `modules/open-webui.nix` feeds the typed
# `hwc.ai.open-webui.*` options through these; the offline checks call them
# directly, and checks/open-webui/ evaluates them to run the real Open
# WebUI with the environment a NixOS host would give it.
#
# Open WebUI reads its settings from its environment. Three variables carry
# keys (OPENAI_API_KEYS, RAG_OPENAI_API_KEY, TOOL_SERVER_CONNECTIONS), so
# they are rendered as templates naming credentials (`@credential:NAME@`),
# and `envFileScript` fills them in at start from `$CREDENTIALS_DIRECTORY`
# (systemd's `LoadCredential=`): a key never enters the Nix store.
let
  concatStringsSep =
    sep: list:
    builtins.foldl' (acc: s: if acc == null then s else acc + sep + s) null list;
  join = sep: list: if list == [ ] then "" else concatStringsSep sep list;
  bool = b: if b then "True" else "False";
  optional = cond: x: if cond then [ x ] else [ ];

  placeholder = credential: "@credential:${credential}@";
  keyOf = c: if c.keyCredential or null == null then "" else placeholder c.keyCredential;

  # The credential names the module loads, one per key.
  credentialNames = {
    router = "open-webui-router-key";
    assistant = "open-webui-assistant-key";
    mcp = "open-webui-mcp-key";
    tool = name: "open-webui-tool-${name}";
  };

  # One entry of TOOL_SERVER_CONNECTIONS, in the shape Open WebUI 0.12's
  # admin settings save (backend/open_webui/routers/configs.py,
  # ToolServerConnection): `type` openapi or mcp; for openapi the spec at
  # `url` + "/" + `path`, every call at `url` + the operation's path;
  # `info.id` names the tools (`server:ID`, `server:mcp:ID`).
  #   server: { id, name, description?, type, url, path?, keyCredential? }
  toolConnection = server: {
    inherit (server) type url;
    path = if server.type == "openapi" then server.path or "openapi.json" else "";
    auth_type = if server.keyCredential or null == null then "none" else "bearer";
    key = keyOf server;
    config.enable = true;
    info = {
      inherit (server) id name;
      description = server.description or "";
    };
  };

  # What Open WebUI is given.
  #   router, assistant: null, or { url (with /v1), keyCredential? }
  #   ollama: null (Open WebUI's own Ollama connection off), or { url }
  #   toolServers: [ server ] (toolConnection above)
  #   embeddingModel: the router's model for RAG embeddings
  #   persistentConfig: let settings saved in Open WebUI's admin pages
  #     outlive a restart (and the environment then stop counting)
  # Returns { environment; secretEnvironment; credentials; }:
  # `environment` holds no key and may go to the store; `secretEnvironment`
  # holds templates for envFileScript; `credentials` the names they use.
  render =
    {
      router ? null,
      assistant ? null,
      ollama ? null,
      toolServers ? [ ],
      embeddingModel ? "nomic-embed-text",
      persistentConfig ? false,
    }:
    let
      connections = optional (router != null) router ++ optional (assistant != null) assistant;
      templates = {
        OPENAI_API_KEYS = join ";" (map keyOf connections);
        TOOL_SERVER_CONNECTIONS = builtins.toJSON (map toolConnection toolServers);
      }
      // (if router != null then { RAG_OPENAI_API_KEY = keyOf router; } else { });
      used = builtins.filter (c: c != null) (
        map (c: c.keyCredential or null) (connections ++ toolServers)
      );
    in
    {
      environment = {
        # Settings come from here, every start: without this, Open WebUI
        # copies them into its database on the first start and ignores
        # the environment from then on (PersistentConfig).
        ENABLE_PERSISTENT_CONFIG = bool persistentConfig;

        ENABLE_OPENAI_API = bool (connections != [ ]);
        OPENAI_API_BASE_URLS = join ";" (map (c: c.url) connections);
        # Ollama sits behind the router; a second way to it would list
        # every model twice and bypass the router's routes and metrics.
        ENABLE_OLLAMA_API = bool (ollama != null);
        ENABLE_TOOL_SERVERS = "True";

        # Private: nothing leaves the host on its own.
        OFFLINE_MODE = "True"; # also: no update check, no model downloads
        HF_HUB_OFFLINE = "1";
        ENABLE_VERSION_UPDATE_CHECK = "False";
        ANONYMIZED_TELEMETRY = "False";
        DO_NOT_TRACK = "True";
        SCARF_NO_ANALYTICS = "True";
        RAG_EMBEDDING_MODEL_AUTO_UPDATE = "False";
        RAG_RERANKING_MODEL_AUTO_UPDATE = "False";
      }
      // (if ollama != null then { OLLAMA_BASE_URL = ollama.url; } else { })
      // (
        if router != null then
          {
            # Embeddings from the router: no local embedding model is
            # loaded (or downloaded).
            RAG_EMBEDDING_ENGINE = "openai";
            RAG_EMBEDDING_MODEL = embeddingModel;
            RAG_OPENAI_API_BASE_URL = router.url;
          }
        else
          { }
      );
      secretEnvironment = templates;
      credentials = builtins.attrNames (builtins.listToAttrs (map (name: { inherit name; value = null; }) used));
    };

  # A template a single-quoted environment-file value cannot carry.
  badTemplates = secretEnvironment:
    builtins.filter (name: builtins.match ".*'.*" secretEnvironment.${name} != null) (
      builtins.attrNames secretEnvironment
    );

  # The bash script that writes the environment file `out` from the
  # templates, each key read from $CREDENTIALS_DIRECTORY/NAME. A key must be
  # one line of bearer-token characters: it is then safe inside JSON and
  # inside the file's single quotes. Bash builtins only (no coreutils).
  envFileScript =
    {
      secretEnvironment,
      credentials,
      out,
    }:
    let
      names = builtins.attrNames secretEnvironment;
      indexed = builtins.genList (i: {
        inherit i;
        name = builtins.elemAt credentials i;
      }) (builtins.length credentials);
      readKeys = join "\n" (map (c: ''k${toString c.i}=$(key ${c.name})'') indexed);
      fill = join "\n" (
        map (c: ''  v=''${v//"${placeholder c.name}"/"$k${toString c.i}"}'') indexed
      );
      write = join "\n" (
        map (name: ''
          v='${secretEnvironment.${name}}'
          ${fill}
          printf "%s='%s'\n" ${name} "$v" >&3'') names
      );
    in
    ''
      set -eu
      umask 077
      key() {
        local file="''${CREDENTIALS_DIRECTORY:?no credentials (LoadCredential=)}/$1" k
        [ -r "$file" ] || { echo "open-webui: the credential $1 is missing" >&2; return 1; }
        k=$(< "$file")
        case $k in
          "" | *[!A-Za-z0-9._~+/=-]*)
            echo "open-webui: the credential $1 must be one line of letters, digits and ._~+/=- (a bearer key)" >&2
            return 1 ;;
        esac
        printf %s "$k"
      }
      ${readKeys}
      exec 3>"${out}"
      ${write}
      exec 3>&-
    '';
in
{
  inherit
    credentialNames
    toolConnection
    render
    badTemplates
    envFileScript
    ;
}
