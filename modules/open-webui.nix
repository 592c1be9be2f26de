# Open WebUI in front of the stack (docs/open-webui.md): nixpkgs'
# `services.open-webui`, given the router and the assistant as its OpenAI
# connections, the MCP gateway and the assistant as tool servers, and a
# private, declarative environment. Off unless enabled.
#
# The environment is rendered by `lib/open-webui.nix`. What holds a key
# (OPENAI_API_KEYS, RAG_OPENAI_API_KEY, TOOL_SERVER_CONNECTIONS) is written
# at start, by an ExecStartPre= of nixpkgs' own unit, from `LoadCredential=`
# into a file in its runtime directory (mode 0600, owned by the unit's
# dynamic user), which the unit reads with `EnvironmentFile=`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.open-webui;
  ai = config.hwc.ai;
  net = import ./lib/net.nix;
  owui = import ./lib/open-webui.nix;
  names = owui.credentialNames;

  keyFileOption =
    description: default: defaultText:
    mkOption {
      type = types.nullOr types.str;
      inherit default;
      defaultText = lib.literalExpression defaultText;
      example = "/run/secrets/open-webui-key";
      description = ''
        ${description} An absolute path of a file on the host, loaded with
        `LoadCredential=`; a string, not a Nix path, so the key is never
        copied to the store. Unset: no key is sent, which a daemon on
        loopback with `allowUnauthenticatedLoopback` accepts.
      '';
    };

  localUrl = daemon: net.httpUrl ai.${daemon}.listenAddress ai.${daemon}.port;

  mcpServers = lib.attrNames ai.mcp.servers;
  mcpUrl = if cfg.tools.mcp.url != null then cfg.tools.mcp.url else localUrl "mcp";
  assistantUrl = if cfg.assistant.url != null then cfg.assistant.url else localUrl "assistant";

  key = file: credential: if file == null then null else credential;

  toolServers =
    lib.optionals cfg.tools.mcp.enable (
      map (
        name:
        if cfg.tools.mcp.protocol == "openapi" then
          {
            id = "mcp-${name}";
            inherit name;
            description = "MCP server `${name}` through hwc-ai-mcp";
            type = "openapi";
            url = "${mcpUrl}/openapi/${name}";
            keyCredential = key cfg.tools.mcp.keyFile names.mcp;
          }
        else
          {
            id = "mcp-${name}";
            inherit name;
            description = "MCP server `${name}` through hwc-ai-mcp";
            type = "mcp";
            url = "${mcpUrl}/mcp/${name}";
            keyCredential = key cfg.tools.mcp.keyFile names.mcp;
          }
      ) mcpServers
    )
    ++ lib.optional cfg.tools.assistant.enable {
      id = "hwc-ai-assistant";
      name = "hwc-ai-assistant";
      description = "Read-only views of this machine (hwc-ai-assistant)";
      type = "openapi";
      url = "${assistantUrl}/tools";
      keyCredential = key cfg.assistant.keyFile names.assistant;
    }
    # the assistant's declared workflows, one operation each (docs/workflows.md)
    ++ lib.optional (cfg.tools.assistant.enable && (ai.assistant.settings.workflows or { }) != { }) {
      id = "hwc-ai-workflows";
      name = "hwc-ai-workflows";
      description = "The declared AI workflows of this machine (hwc-ai-assistant)";
      type = "openapi";
      url = "${assistantUrl}/workflows";
      keyCredential = key cfg.assistant.keyFile names.assistant;
    }
    ++ map (t: {
      id = t.name;
      inherit (t) name type url path;
      description = "";
      keyCredential = key t.keyFile (names.tool t.name);
    }) cfg.tools.extra;

  rendered = owui.render {
    router =
      if cfg.router.enable then
        {
          url = if cfg.router.url != null then cfg.router.url else "${localUrl "router"}/v1";
          keyCredential = key cfg.router.keyFile names.router;
        }
      else
        null;
    assistant =
      if cfg.assistant.enable then
        {
          url = "${assistantUrl}/v1";
          keyCredential = key cfg.assistant.keyFile names.assistant;
        }
      else
        null;
    ollama =
      if cfg.ollama.keepNativeConnection then
        { url = net.httpUrl config.services.ollama.host config.services.ollama.port; }
      else
        null;
    inherit toolServers;
    inherit (cfg.rag) embeddingModel;
    inherit (cfg) persistentConfig;
  };

  keyFiles = lib.filterAttrs (_: v: v.file != null) (
    {
      "hwc.ai.open-webui.router.keyFile" = {
        file = if cfg.router.enable then cfg.router.keyFile else null;
        credential = names.router;
      };
      "hwc.ai.open-webui.assistant.keyFile" = {
        file = if cfg.assistant.enable || cfg.tools.assistant.enable then cfg.assistant.keyFile else null;
        credential = names.assistant;
      };
      "hwc.ai.open-webui.tools.mcp.keyFile" = {
        file = if cfg.tools.mcp.enable then cfg.tools.mcp.keyFile else null;
        credential = names.mcp;
      };
    }
    // lib.listToAttrs (
      map (t: {
        name = "hwc.ai.open-webui.tools.extra.${t.name}.keyFile";
        value = {
          file = t.keyFile;
          credential = names.tool t.name;
        };
      }) cfg.tools.extra
    )
  );

  envFile = "/run/open-webui/hwc-ai.env";
  envFileScript = owui.envFileScript {
    inherit (rendered) secretEnvironment credentials;
    out = envFile;
  };
  writeEnv = pkgs.writeShellScript "open-webui-hwc-ai-env" envFileScript;

  extraType = types.submodule {
    options = {
      name = mkOption {
        type = types.strMatching "[A-Za-z0-9_.-]+";
        example = "searxng";
        description = "The connection's name in Open WebUI (and its tools' id, `server:NAME`).";
      };
      type = mkOption {
        type = types.enum [
          "openapi"
          "mcp"
        ];
        default = "openapi";
        description = "An OpenAPI tool server, or an MCP server over streamable HTTP.";
      };
      url = mkOption {
        type = types.str;
        example = "http://127.0.0.1:8000";
        description = ''
          The server's URL. For `openapi`, Open WebUI fetches the spec at
          URL/`path` and calls URL + each operation's path (it ignores the
          spec's `servers`).
        '';
      };
      path = mkOption {
        type = types.str;
        default = "openapi.json";
        description = "The OpenAPI spec's path under `url` (`openapi` only).";
      };
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "A file on the host holding its bearer key (`LoadCredential=`); none sent when unset.";
      };
    };
  };
in
{
  options.hwc.ai.open-webui = {
    enable = lib.mkEnableOption ''
      Open WebUI (nixpkgs' `services.open-webui`, enabled unless set there)
      wired to the stack: the router and the assistant as its model
      connections, the MCP gateway and the assistant as its tool servers'';

    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "0.0.0.0";
      description = "`services.open-webui.host`: where Open WebUI listens.";
    };
    port = mkOption {
      type = types.port;
      default = 8080;
      description = "`services.open-webui.port`.";
    };

    router = {
      enable = mkOption {
        type = types.bool;
        default = ai.router.enable || cfg.router.url != null;
        defaultText = lib.literalExpression "config.hwc.ai.router.enable || router.url != null";
        description = "Whether the router is Open WebUI's OpenAI connection (its models, and RAG embeddings).";
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://ai.lan:9432/v1";
        description = "The router's OpenAI base URL, with `/v1`; the local router when unset.";
      };
      keyFile =
        keyFileOption "Open WebUI's client key for the router."
          (ai.router.clientKeys.open-webui or null)
          "config.hwc.ai.router.clientKeys.open-webui or null";
    };

    assistant = {
      enable = mkOption {
        type = types.bool;
        default = ai.assistant.enable;
        defaultText = lib.literalExpression "config.hwc.ai.assistant.enable";
        description = "Whether the assistant is a second OpenAI connection (the model `hwc-ai-assistant`).";
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "The assistant's base URL, without `/v1`; the local assistant when unset.";
      };
      keyFile =
        keyFileOption "Open WebUI's client key for the assistant (model and tool server)."
          (ai.assistant.clientKeys.open-webui or null)
          "config.hwc.ai.assistant.clientKeys.open-webui or null";
    };

    ollama.keepNativeConnection = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Keep Open WebUI's own Ollama connection (`ENABLE_OLLAMA_API`, to
        `services.ollama`) besides the router. Off: Ollama's models come
        through the router, once, with its routes, fallbacks and metrics;
        Open WebUI's model management pages for Ollama (pull, delete) need
        this on.
      '';
    };

    tools = {
      mcp = {
        enable = mkOption {
          type = types.bool;
          default = ai.mcp.enable;
          defaultText = lib.literalExpression "config.hwc.ai.mcp.enable";
          description = ''
            One tool server per MCP server declared in `hwc.ai.mcp.servers`,
            through the gateway. One per server rather than the gateway's
            aggregate: Open WebUI then offers each server as its own tool
            set, to turn on per chat or per model, with short tool names,
            and a server that is down hides only its own tools.
          '';
        };
        protocol = mkOption {
          type = types.enum [
            "openapi"
            "mcp"
          ];
          default = "openapi";
          description = ''
            `openapi`: the gateway's OpenAPI bridge (`/openapi/NAME`), which
            every Open WebUI version reads. `mcp`: Open WebUI's native MCP
            client on `/mcp/NAME` (streamable HTTP).
          '';
        };
        url = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "The gateway's base URL; the local gateway when unset.";
        };
        keyFile =
          keyFileOption "Open WebUI's client key for the MCP gateway."
            (ai.mcp.clientKeys.open-webui or null)
            "config.hwc.ai.mcp.clientKeys.open-webui or null";
      };
      assistant.enable = mkOption {
        type = types.bool;
        default = ai.assistant.enable;
        defaultText = lib.literalExpression "config.hwc.ai.assistant.enable";
        description = "The assistant's read-only tools as a tool server for every model (`/tools`).";
      };
      extra = mkOption {
        type = types.listOf extraType;
        default = [ ];
        example = lib.literalExpression ''
          [ { name = "searxng"; url = "http://127.0.0.1:8000"; keyFile = "/run/secrets/searxng-tools"; } ]
        '';
        description = "Your own OpenAPI tool servers or MCP servers.";
      };
    };

    rag.embeddingModel = mkOption {
      type = types.str;
      default = "nomic-embed-text";
      description = ''
        The router's model for document embeddings (RAG). Embeddings go
        through the router (`RAG_EMBEDDING_ENGINE=openai`), so Open WebUI
        loads no local embedding model and downloads none.
      '';
    };

    persistentConfig = mkOption {
      type = types.bool;
      default = false;
      description = ''
        `ENABLE_PERSISTENT_CONFIG`. Off: every start takes its settings
        from these options, so a change takes effect after
        `nixos-rebuild switch`; settings changed in Open WebUI's admin pages
        last until the next restart. On: Open WebUI copies the settings
        into its database on the first start and ignores the environment
        from then on.
      '';
    };

    internal.envFileScript = mkOption {
      internal = true;
      visible = false;
      readOnly = true;
      type = types.str;
      default = envFileScript;
      description = "The ExecStartPre= script's text (for the checks).";
    };

    environment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        WEBUI_NAME = "Homelab AI";
      };
      description = "More environment for Open WebUI; it overrides what the module renders (never put keys here: the store is world-readable).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      [
        {
          assertion = owui.badTemplates rendered.secretEnvironment == [ ];
          message = "hwc.ai.open-webui: a URL holds a single quote, which the environment file cannot carry";
        }
        {
          assertion = lib.length (lib.unique (map (t: t.id) toolServers)) == lib.length toolServers;
          message = "hwc.ai.open-webui.tools.extra: names must be unique and differ from `mcp-<server>`, `hwc-ai-assistant` and `hwc-ai-workflows`";
        }
        {
          assertion = cfg.router.enable || cfg.assistant.enable || cfg.ollama.keepNativeConnection;
          message = "hwc.ai.open-webui: no model connection: enable the router (hwc.ai.enable), the assistant (hwc.ai.assistant.enable) or ollama.keepNativeConnection, or set router.url";
        }
      ]
      ++ lib.mapAttrsToList (option: v: {
        assertion = lib.hasPrefix "/" v.file;
        message = "${option}: `${v.file}` is not an absolute path";
      }) keyFiles;

    warnings = lib.mapAttrsToList (option: _: "${option} is in the Nix store, which every local user can read") (
      lib.filterAttrs (_: v: lib.hasPrefix "/nix/store/" v.file) keyFiles
    );

    services.open-webui = {
      enable = lib.mkDefault true;
      inherit (cfg) host port;
      environment = lib.mapAttrs (_: lib.mkDefault) rendered.environment // cfg.environment;
    };

    # only with nixpkgs' unit: alone, these would make a unit without ExecStart=
    systemd.services.open-webui = lib.mkIf config.services.open-webui.enable {
      after = lib.optional ai.router.enable "hwc-ai-router.service"
        ++ lib.optional ai.assistant.enable "hwc-ai-assistant.service"
        ++ lib.optional ai.mcp.enable "hwc-ai-mcp.service";
      serviceConfig = {
        LoadCredential = lib.mapAttrsToList (_: v: "${v.credential}:${v.file}") keyFiles;
        # runs as the unit's user, with its credentials, in its runtime
        # directory; read again by systemd before ExecStart=
        ExecStartPre = [ "${writeEnv}" ];
        EnvironmentFile = [ "-${envFile}" ];
      };
    };
  };
}
