# hwc-ai-router's config document (docs/router.md) and unit, as pure
# functions.
#
# Plain Nix: no `pkgs`, no `lib`. `modules/router.nix` feeds the typed
# `hwc.ai.router.*` and `hwc.ai.cloud.*` options through these into
# `hwc.ai.router.settings`; the offline checks render the same document and
# unit, and hand the document to `hwc-ai-router --check-config`.
let
  net = import ./net.nix;
  daemon = (import ./daemons.nix).router;
  units = import ./units.nix;
  util = import ./util.nix;
  inherit (util) compact;

  concatMap = f: list: builtins.concatLists (map f list);

  # The cloud providers `hwc.ai.cloud.<provider>` knows, by backend name.
  providers = {
    openai = {
      kind = "openai-compatible";
      baseUrl = "https://api.openai.com/v1";
      # OpenAI's chat and embedding model names; none carries an Ollama tag
      models = [
        "gpt-*"
        "chatgpt-*"
        "o1*"
        "o3*"
        "o4*"
        "text-embedding-*"
      ];
    };
    anthropic = {
      kind = "anthropic";
      baseUrl = "https://api.anthropic.com/v1";
      models = [ "claude-*" ];
    };
  };

  # systemd credential names (LoadCredential=NAME:PATH), read by the router
  # as $CREDENTIALS_DIRECTORY/NAME.
  clientKeyCredential = name: "router-key-${name}";
  apiKeyCredential = backend: "${backend}-api-key";

  # What a credential name may hold: LoadCredential= splits on ":", and the
  # name is a file name in $CREDENTIALS_DIRECTORY.
  isCredentialName = name: builtins.match "[A-Za-z0-9_.-]+" name != null;

  # An alias or route target list; a plain string is a model on the local
  # Ollama.
  targetsOf = value: if builtins.isString value then [ { model = value; } ] else value;

  # One target; naming neither `backend` nor `backends`, it goes where
  # `local` says: the local Ollama, or the tier of it and the other Ollama
  # hosts.
  target =
    local: t:
    compact (if (t.backend or null) == null && (t.backends or null) == null then t // local else t);

  route = local: model: targets: {
    inherit model;
    targets = map (target local) (targetsOf targets);
  };

  # One backend of the document. `apiKeyFile` (a path on the host) becomes
  # a credential reference; the path itself never enters the document.
  backend =
    name: b:
    compact {
      inherit name;
      kind = b.kind or "openai-compatible";
      inherit (b) baseUrl;
      remote = if b.remote or false then true else null;
      apiKey = if (b.apiKeyFile or null) == null then null else { credential = apiKeyCredential name; };
      maxConcurrent = b.maxConcurrent or null;
      maxQueue = b.maxQueue or null;
      listModels = if b.listModels or false then true else null;
      discover = if b.discover or false then true else null;
      tls = b.tls or null;
    };

  # The backends of the Ollama hosts besides this one: each discovers its
  # models and is remote unless on loopback (naming a host here is the
  # operator's word that requests may go there).
  hostBackend =
    name: h:
    backend name {
      baseUrl = "${h.url}/v1";
      remote = !(net.isLoopback (net.hostOf h.url));
      maxConcurrent = h.maxConcurrent or null;
      maxQueue = h.maxQueue or null;
      discover = true;
      tls = if (h.caFile or null) == null then null else { inherit (h) caFile; };
    };

  # The document the typed options describe.
  #   listen: "host:port"
  #   ollamaUrl: the local Ollama, "http://127.0.0.1:11434"
  #   cloud: provider -> { apiKeyFile, baseUrl ? ..., models ? ..., maxConcurrent ? null },
  #     the enabled ones only
  #   backends: more backends, name -> { kind, baseUrl, remote, apiKeyFile,
  #     maxConcurrent, maxQueue, listModels, discover }
  #   ollamaHosts: more Ollama hosts, name -> { url, maxConcurrent ? null,
  #     maxQueue ? null, caFile ? null }: with any, every model the local Ollama would get
  #     goes to one tier of it and them, balanced (docs/router.md, Several
  #     Ollama hosts)
  #   aliases: name -> a model on the local Ollama, or a list of targets
  #   routes: more routes, { model, targets }, ahead of the default ones
  #   clientKeys: client name -> key file on the host
  #   profiles: name -> { targets, temperature, maxTokens, timeout,
  #     reasoningEffort, maxDepth, params, schemaRepairs, strictSchema }
  #     (docs/execute.md); `targets` as an alias's
  #   debugRequests: honour `x-hwc-ai-debug: 1`
  document =
    {
      listen,
      ollamaUrl,
      cloud ? { },
      backends ? { },
      ollamaHosts ? { },
      aliases ? { },
      routes ? [ ],
      clientKeys ? { },
      allowUnauthenticatedLoopback ? true,
      profiles ? { },
      debugRequests ? false,
    }:
    let
      ollama = {
        name = "ollama";
        kind = "openai-compatible";
        baseUrl = "${ollamaUrl}/v1";
        listModels = true;
      }
      // (if hostNames == [ ] then { } else { discover = true; })
      # Ollama on one of this host's own non-loopback addresses: the router
      # only knows loopback as local, and refuses such a URL without it.
      // (if net.isLoopback (net.hostOf ollamaUrl) then { } else { remote = true; });

      hostNames = builtins.attrNames ollamaHosts;
      # Where "the local Ollama" sends: itself, or one tier of it and the
      # other hosts.
      local = if hostNames == [ ] then { backend = "ollama"; } else { backends = [ "ollama" ] ++ hostNames; };

      cloudNames = builtins.attrNames cloud;
      cloudBackend =
        name:
        let
          c = providers.${name} // cloud.${name};
        in
        # remote unless pointed at a proxy on this host
        backend name (c // { remote = !(net.isLoopback (net.hostOf c.baseUrl)); });
      cloudRoutes = concatMap (
        name:
        map (model: route local model [ { backend = name; } ]) (
          cloud.${name}.models or providers.${name}.models
        )
      ) cloudNames;

      toLocal = model: route local model [ local ];
    in
    {
      inherit listen;
      clients = {
        keys = map (name: {
          inherit name;
          key.credential = clientKeyCredential name;
        }) (builtins.attrNames clientKeys);
        inherit allowUnauthenticatedLoopback;
      };
      backends = [
        ollama
      ]
      ++ map (name: hostBackend name ollamaHosts.${name}) hostNames
      ++ map cloudBackend cloudNames
      ++ map (name: backend name backends.${name}) (builtins.attrNames backends);
      # Exact names win over globs wherever they are; globs are tried in
      # this order: the operator's, then a tagged name (`qwen3:8b`) stays
      # local even when a cloud pattern would match it (`gpt-*` and Ollama's
      # `gpt-oss:20b`), then the cloud patterns, then everything else to the
      # local Ollama.
      routes =
        map (name: route local name aliases.${name}) (builtins.attrNames aliases)
        ++ map (r: route local r.model r.targets) routes
        ++ (if cloudRoutes == [ ] then [ ] else [ (toLocal "*:*") ])
        ++ cloudRoutes
        ++ [ (toLocal "*") ];
    }
    // (
      if profiles == { } then
        { }
      else
        { profiles = map (name: profile local name profiles.${name}) (builtins.attrNames profiles); }
    )
    // (if debugRequests then { inherit debugRequests; } else { });

  # One profile of the document: its targets as an alias's, its defaults
  # as given (unset ones left out).
  profile =
    local: name: p:
    compact (
      p
      // {
        inherit name;
        targets = map (target local) (targetsOf p.targets);
        params = if (p.params or { }) == { } then null else p.params;
      }
    );

  # The credential holding `hwc.ai.router.profilesFile`, and where the
  # router finds it ($HWC_AI_ROUTER_PROFILES_FILE; %d is the unit's
  # credentials directory).
  profilesCredential = "router-profiles";
  profilesEnvironment = {
    HWC_AI_ROUTER_PROFILES_FILE = "%d/${profilesCredential}";
  };

  # Credentials the unit loads: credential name -> path on the host.
  credentials =
    {
      cloud ? { },
      backends ? { },
      clientKeys ? { },
      profilesFile ? null,
    }:
    let
      keyed =
        attrs:
        builtins.listToAttrs (
          map (name: {
            name = apiKeyCredential name;
            value = attrs.${name}.apiKeyFile;
          }) (builtins.filter (name: (attrs.${name}.apiKeyFile or null) != null) (builtins.attrNames attrs))
        );
    in
    keyed cloud
    // keyed backends
    // builtins.listToAttrs (
      map (name: {
        name = clientKeyCredential name;
        value = clientKeys.${name};
      }) (builtins.attrNames clientKeys)
    )
    // (if profilesFile == null then { } else { ${profilesCredential} = profilesFile; });

  # The hosts a document makes the router connect to: its backends'.
  peers = doc: map (b: net.hostOf (b.baseUrl or "")) (doc.backends or [ ]);

  # Backends targets name that the document does not have.
  unknownBackends =
    doc:
    let
      known = map (b: b.name or "") (doc.backends or [ ]);
      named = concatMap (r: concatMap (t: t.backends or [ (t.backend or "") ]) (r.targets or [ ])) (
        (doc.routes or [ ]) ++ (doc.profiles or [ ])
      );
    in
    builtins.attrNames (
      builtins.listToAttrs (
        map (name: {
          inherit name;
          value = true;
        }) (builtins.filter (name: !(builtins.elem name known)) named)
      )
    );

  # The hwc-ai-router unit, `systemd.services.hwc-ai-router`.
  #   limits: the unit's resource limits (units.nix `resourceLimits`)
  #   binDir: directory of the hwc-ai binaries
  #   configFile: path of the (checked) config document
  #   settings: the document itself, for the listen address and the backends
  #   credentials: name -> path, LoadCredential= (API keys, client keys)
  #   after: the local Ollama's unit, when there is one
  #
  # The IP filter follows the backends (units.nix): loopback only while
  # every backend is on this host (the default: the local Ollama); a
  # backend given by IP address (a GPU box on the LAN) adds that address; a
  # backend named by host name (every cloud provider) lifts the filter, as
  # the provider's addresses and the DNS server that resolves them are
  # unknown until run time.
  unit =
    {
      binDir,
      configFile,
      settings,
      credentials ? { },
      after ? [ ],
      limits ? daemon.limits,
    }:
    units.service {
      inherit limits;
      environment = if credentials ? ${profilesCredential} then profilesEnvironment else { };
      name = daemon.unit;
      description = "hwc-ai ${daemon.description}";
      documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/${daemon.docs}" ];
      execStart = "${binDir}/hwc-ai-router --config ${configFile}";
      listen = settings.listen or daemon.listen;
      peers = peers settings;
      inherit credentials after;
    };
in
{
  inherit
    providers
    clientKeyCredential
    apiKeyCredential
    isCredentialName
    document
    profilesCredential
    credentials
    peers
    unknownBackends
    unit
    ;
}
