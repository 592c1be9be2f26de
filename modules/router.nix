# hwc-ai-router: one OpenAI-compatible endpoint in front of the local Ollama
# and, when enabled, cloud providers (docs/router.md).
#
# `hwc.ai.router.*` sets where it listens, the aliases, routes, extra
# backends and client keys; `hwc.ai.cloud.*` adds OpenAI and Anthropic. The
# typed options feed `hwc.ai.router.settings` through `mkDefault`, so any
# field of the rendered document can be overridden there. The document is
# checked by `hwc-ai-router --check-config` at build time, so a route that
# names a missing backend fails the build.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.router;
  cloudCfg = config.hwc.ai.cloud;
  pkg = config.hwc.ai.package;
  net = import ./lib/net.nix;
  router = import ./lib/router.nix;
  daemon = (import ./lib/daemons.nix).router;

  settingsLib = import ./settings.nix { inherit lib pkgs; };
  inherit (settingsLib) defaultsDeep field;
  settingsFormat = settingsLib.format;

  ollama = config.services.ollama;

  targetType = types.submodule {
    options = {
      backend = field types.str ''
        The backend's name: `ollama`, `openai`, `anthropic` or one of
        `hwc.ai.router.backends` or `ollamaHosts`. Unset (and no `backends`):
        the local Ollama, or, with `ollamaHosts`, one tier of it and them.
      '';
      backends = field (types.listOf types.str) ''
        Several backends' names instead of `backend`: one tier of equally
        preferred backends, balanced by model, conversation and load.
      '';
      model = field types.str "The model name sent upstream; the requested name when unset.";
      firstByteTimeout = field types.str "Streams: time for headers and the first chunk (`defaults.firstByteTimeout`).";
      timeout = field types.str "Non-streaming: time for the whole answer (`defaults.timeout`).";
      idleTimeout = field types.str "Streams: the longest silence between chunks (`defaults.idleTimeout`).";
      maxPromptTokens = field types.ints.positive "A larger estimated prompt skips this target.";
    };
  };

  profileType = types.submodule {
    options = {
      targets = mkOption {
        type = targetsType;
        description = "Tried in order; a string is a model on the local Ollama.";
      };
      temperature = field types.number "Default `temperature` (0 to 2).";
      maxTokens = field types.ints.positive "Default `max_tokens`.";
      timeout = field types.str "The whole request's budget across attempts (`defaults.budget`, 5m).";
      reasoningEffort = field (types.enum [
        "none"
        "minimal"
        "low"
        "medium"
        "high"
      ]) "Default reasoning effort, mapped to each backend's own control.";
      maxDepth = field types.ints.positive "Tool-call rounds a caller may take with this profile.";
      params = mkOption {
        type = settingsFormat.type;
        default = { };
        example = {
          top_p = 0.9;
          seed = 7;
        };
        description = "Portable model parameters added to requests that do not set them.";
      };
      schemaRepairs = field types.ints.unsigned "Re-asks per target when an answer fails its schema (`defaults.schemaRepairs`, 1).";
      strictSchema = mkOption {
        type = types.bool;
        default = false;
        description = "Check `response_format` json_schema answers on `/v1/chat/completions` too.";
      };
    };
  };

  # a plain string is a model on the local Ollama
  targetsType = types.coercedTo types.str (model: [ { inherit model; } ]) (types.listOf targetType);

  routeType = types.submodule {
    options = {
      model = mkOption {
        type = types.str;
        example = "smart";
        description = "The name clients ask for: exact, or a glob with `*` and `?`.";
      };
      targets = mkOption {
        type = targetsType;
        description = "Tried in order; a string is a model on the local Ollama.";
      };
    };
  };

  backendType = types.submodule {
    options = {
      kind = mkOption {
        type = types.enum [
          "openai-compatible"
          "anthropic"
        ];
        default = "openai-compatible";
        description = "The API it speaks.";
      };
      baseUrl = mkOption {
        type = types.str;
        example = "http://10.0.0.5:11434/v1";
        description = "The API root; the router appends `chat/completions`, `embeddings` or `messages`.";
      };
      remote = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Requests to this backend leave the host. Required when `baseUrl`
          is not on loopback, refused when it is: a prompt leaves the host
          only where the configuration says so in as many words.
        '';
      };
      apiKeyFile = field types.str ''
        Absolute path of a file on the host holding the backend's API key;
        loaded with `LoadCredential=`, never copied to the Nix store.
      '';
      maxConcurrent = field types.ints.positive "Concurrent upstream requests to it (`defaults.maxConcurrent`).";
      maxQueue = field types.ints.unsigned "Requests that may wait for it at `maxConcurrent`; one more is passed over (429 when no target is left).";
      listModels = mkOption {
        type = types.bool;
        default = false;
        description = "Ask it for its models when a client lists models.";
      };
      discover = mkOption {
        type = types.bool;
        default = false;
        description = "An Ollama: route by the models it has (`/api/tags`) and has loaded (`/api/ps`).";
      };
    };
  };

  ollamaHostType = types.submodule {
    options = {
      url = mkOption {
        type = types.str;
        example = "http://10.0.0.5:11434";
        description = "The host's Ollama root (without `/v1`).";
      };
      maxConcurrent = field types.ints.positive "Concurrent requests to it (`defaults.maxConcurrent`, 16).";
      maxQueue = field types.ints.unsigned "Requests that may wait for it at `maxConcurrent`.";
      caFile = field types.str "PEM file of the CA that signs the certificate of an `https` url (a homelab CA), trusted for this host besides the system's.";
    };
  };

  cloudOptions =
    name:
    let
      provider = router.providers.${name};
    in
    {
      enable = lib.mkEnableOption "routing to ${name}'s API: requests to its models leave this host";
      apiKeyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/secrets/${name}-api-key";
        description = ''
          Absolute path of a file on the host holding the API key; loaded
          with `LoadCredential=${router.apiKeyCredential name}:<path>`. A
          string, not a Nix path, so the key is never copied to the store.
        '';
      };
      baseUrl = mkOption {
        type = types.str;
        default = provider.baseUrl;
        description = "The API root.";
      };
      models = mkOption {
        type = types.listOf types.str;
        default = provider.models;
        description = ''
          The names and globs routed to ${name}. A name with a tag
          (`gpt-oss:20b`) stays on the local Ollama whatever these match.
        '';
      };
      maxConcurrent = field types.ints.positive "Concurrent requests to ${name} (`defaults.maxConcurrent`).";
    };

  enabledCloud = lib.filterAttrs (_: c: c.enable) cloudCfg;
  cloudArgs = lib.mapAttrs (
    _: c: {
      inherit (c)
        apiKeyFile
        baseUrl
        models
        maxConcurrent
        ;
    }
  ) enabledCloud;

  listen = net.hostPort cfg.listenAddress cfg.port;

  document = router.document {
    inherit listen;
    ollamaUrl = net.httpUrl ollama.host ollama.port;
    cloud = cloudArgs;
    inherit (cfg)
      backends
      ollamaHosts
      aliases
      routes
      clientKeys
      allowUnauthenticatedLoopback
      profiles
      debugRequests
      ;
  };

  credentials = router.credentials {
    cloud = cloudArgs;
    inherit (cfg) backends clientKeys profilesFile;
  };

  checkedConfig = settingsLib.checked {
    daemon = "hwc-ai-router";
    package = pkg;
    inherit (cfg) settings;
  };

  reserved = [ "ollama" ] ++ lib.attrNames router.providers;

  # every secret path: "option = path"
  secretPaths =
    lib.mapAttrs' (name: c: lib.nameValuePair "hwc.ai.cloud.${name}.apiKeyFile" c.apiKeyFile) (
      lib.filterAttrs (_: c: c.apiKeyFile != null) enabledCloud
    )
    // lib.mapAttrs' (name: b: lib.nameValuePair "hwc.ai.router.backends.${name}.apiKeyFile" b.apiKeyFile) (
      lib.filterAttrs (_: b: b.apiKeyFile != null) cfg.backends
    )
    // lib.mapAttrs' (name: path: lib.nameValuePair "hwc.ai.router.clientKeys.${name}" path) cfg.clientKeys
    // lib.optionalAttrs (cfg.profilesFile != null) { "hwc.ai.router.profilesFile" = cfg.profilesFile; };

  unknown = router.unknownBackends cfg.settings;
in
{
  options.hwc.ai.router = {
    enable = mkOption {
      type = types.bool;
      # loopback only, and only to the local Ollama unless a cloud provider
      # is enabled: nothing to lose by running it
      default = config.hwc.ai.enable;
      defaultText = lib.literalExpression "config.hwc.ai.enable";
      description = "Whether to run hwc-ai-router, one OpenAI-compatible endpoint for every model.";
    };

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "::";
      description = ''
        Address of the router's API, `/metrics` and `/health`. Beyond
        loopback, clients need a key (`clientKeys`).
      '';
    };

    port = mkOption {
      type = types.port;
      default = daemon.port;
      description = "Their port.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open `port` in the firewall (clients on other hosts).";
    };

    aliases = mkOption {
      type = types.attrsOf targetsType;
      default = { };
      example = lib.literalExpression ''
        {
          local-fast = "llama3.2:3b";
          smart = [
            { model = "qwen3:8b"; firstByteTimeout = "20s"; }
            { backend = "openai"; model = "gpt-4o-mini"; }
          ];
        }
      '';
      description = ''
        Names clients can ask for: a model on the local Ollama, or a list of
        targets tried in order (without `backend` or `backends`, the local Ollama, or the tier of it and `ollamaHosts`).
      '';
    };

    routes = mkOption {
      type = types.listOf routeType;
      default = [ ];
      example = lib.literalExpression ''
        [ { model = "mistral-*"; targets = [ { backend = "gpu-box"; } ]; } ]
      '';
      description = ''
        More routes, ahead of the default ones: every name with a tag
        (`*:*`) to Ollama when a cloud provider is enabled, the providers'
        `models`, then everything else (`*`) to Ollama.
      '';
    };

    ollamaHosts = mkOption {
      type = types.attrsOf ollamaHostType;
      default = { };
      example = lib.literalExpression ''
        { gpu1.url = "http://10.0.0.5:11434"; gpu2 = { url = "http://10.0.0.6:11434"; maxConcurrent = 4; }; }
      '';
      description = ''
        Ollama hosts besides this one. With any, the local Ollama and these
        form one tier wherever the local Ollama would be used (the catch-all
        routes and string aliases): each discovers its models, a request
        goes only to hosts that have the model, preferring one with it
        loaded, the same conversation's host, and the fewest requests in
        flight (docs/router.md, Several Ollama hosts). Requests to a host
        not on loopback leave this host: naming it here says so. The
        puller manages this host's Ollama only; each other host runs its
        own puller or is managed by hand.
      '';
    };

    backends = mkOption {
      type = types.attrsOf backendType;
      default = { };
      example = lib.literalExpression ''
        {
          gpu-box = {
            baseUrl = "http://10.0.0.5:11434/v1";
            remote = true;
            listModels = true;
          };
        }
      '';
      description = ''
        Backends besides the local Ollama (`ollama`) and the cloud providers
        (`openai`, `anthropic`); routes and aliases name them.
      '';
    };

    clientKeys = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        open-webui = "/run/secrets/router-key-open-webui";
      };
      description = ''
        Client keys: client name -> absolute path of a file on the host
        holding its bearer key (`LoadCredential=router-key-<name>:<path>`).
        The name is what the router's logs show.
      '';
    };

    allowUnauthenticatedLoopback = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Requests from this host need no key. Turn it off when a cloud
        provider is enabled and local users should not spend on it.
      '';
    };

    profiles = mkOption {
      type = types.attrsOf profileType;
      default = { };
      example = lib.literalExpression ''
        {
          custodian-triage-balanced = {
            targets = [
              { model = "qwen3:8b"; }
              { backend = "openai"; model = "gpt-4o-mini"; }
            ];
            temperature = 0.2;
            maxTokens = 2048;
            timeout = "120s";
            reasoningEffort = "medium";
          };
        }
      '';
      description = ''
        Named request defaults over an ordered list of targets, usable
        wherever a model name is (`/execute`, `/v1/chat/completions`);
        docs/execute.md.
      '';
    };

    profilesFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/etc/llm/profiles.json";
      description = ''
        Absolute path of a JSON file `{"profiles": [...]}` on the host, for
        profiles kept outside Nix: its profiles replace those of the same
        name and add others. Loaded with `LoadCredential=` at start, so the
        unit needs no read access to its directory; a bad file stops the
        start with the field named.
      '';
    };

    debugRequests = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Honour `x-hwc-ai-debug: 1` on a request: log its upstream requests
        and answers, with every credential redacted (prompts do appear).
      '';
    };
  }
  // settingsLib.documentOptions {
    name = "router";
    daemon = "hwc-ai-router";
    configFile = checkedConfig;
    example = {
      log.level = "debug";
      defaults.firstByteTimeout = "30s";
    };
  };

  options.hwc.ai.cloud = lib.genAttrs (lib.attrNames router.providers) cloudOptions;

  config = lib.mkMerge [
    {
      assertions = lib.mapAttrsToList (name: _: {
        assertion = cfg.enable;
        message = "hwc.ai.cloud.${name}.enable: the cloud providers are reached through hwc-ai-router; enable hwc.ai.router";
      }) enabledCloud;
    }

    (lib.mkIf cfg.enable {
      assertions =
        lib.mapAttrsToList (name: c: {
          assertion = c.apiKeyFile != null;
          message = "hwc.ai.cloud.${name}.apiKeyFile must be set: the path of a file holding the API key";
        }) enabledCloud
        ++ lib.mapAttrsToList (option: path: {
          assertion = lib.hasPrefix "/" path;
          message = "${option}: `${path}` is not an absolute path";
        }) secretPaths
        ++ map (name: {
          assertion = router.isCredentialName name;
          message = "hwc.ai.router: `${name}` cannot name a credential; use A-Z a-z 0-9 _ . -";
        }) (lib.attrNames cfg.clientKeys ++ lib.attrNames (lib.filterAttrs (_: b: b.apiKeyFile != null) cfg.backends))
        ++ map (name: {
          assertion = !(cfg.backends ? ${name});
          message = "hwc.ai.router.backends.${name}: the name is taken by the module's own backend";
        }) reserved
        ++ lib.mapAttrsToList (name: _: {
          assertion = !(lib.elem name reserved) && !(cfg.backends ? ${name});
          message = "hwc.ai.router.ollamaHosts.${name}: the name is taken by another backend";
        }) cfg.ollamaHosts
        ++ lib.mapAttrsToList (name: h: {
          assertion = builtins.match "https?://[^/]+" h.url != null;
          message = "hwc.ai.router.ollamaHosts.${name}.url: `${h.url}` is not an Ollama root such as http://10.0.0.5:11434 (no path, no /v1)";
        }) cfg.ollamaHosts
        ++ lib.mapAttrsToList (name: b: {
          assertion = b.remote == !(net.isLoopback (net.hostOf b.baseUrl));
          message =
            if b.remote then
              "hwc.ai.router.backends.${name}: `${b.baseUrl}` is on this host; remove remote = true"
            else
              "hwc.ai.router.backends.${name}: `${b.baseUrl}` is not on this host; set remote = true to let requests leave it";
        }) cfg.backends
        ++ [
          {
            assertion = unknown == [ ];
            message = "hwc.ai.router: routes name backends that are not configured: ${lib.concatStringsSep ", " unknown} (enable hwc.ai.cloud.<provider> or add hwc.ai.router.backends.<name>)";
          }
        ];

      warnings = lib.mapAttrsToList (
        option: _: "${option} is in the Nix store, which every local user can read"
      ) (lib.filterAttrs (_: path: lib.hasPrefix "/nix/store/" path) secretPaths);

      hwc.ai.router.settings = defaultsDeep document;

      # probed by hwc-ai-prober and scraped by Prometheus
      hwc.ai.internal.daemons.hwc-ai-router = {
        inherit (cfg.settings) listen;
      };

      systemd.services.hwc-ai-router = router.unit {
        binDir = "${pkg}/bin";
        inherit (cfg) configFile settings limits;
        inherit credentials;
        # the first request finds Ollama up; the router does not need it to start
        after = lib.optional ollama.enable "ollama.service";
      };

      networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];
    })
  ];
}
