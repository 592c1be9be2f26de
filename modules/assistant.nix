# hwc-ai-assistant: a read-only operations assistant that answers from the
# machine's own data, refuses changes and audits every call
# (docs/assistant.md). Off unless enabled.
#
# The typed options feed `hwc.ai.assistant.settings` through `mkDefault`,
# so any field of the document can be overridden there; the document is
# checked by `hwc-ai-assistant --check-config` at build time. Secrets (client
# keys, the router's key, Home Assistant's token and client key) are
# absolute paths on the host, loaded with `LoadCredential=`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.assistant;
  pkg = config.hwc.ai.package;
  net = import ./lib/net.nix;
  assistant = import ./lib/assistant.nix;
  daemon = (import ./lib/daemons.nix).assistant;
  inherit (import ./lib/util.nix) compact;

  settingsLib = import ./settings.nix { inherit lib pkgs; };
  inherit (settingsLib) defaultsDeep field defaultedField;

  secret =
    description:
    mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/hwc-ai-assistant";
      description = ''
        ${description} An absolute path of a file on the host, loaded with
        `LoadCredential=`; a string, not a Nix path, so the secret is never
        copied to the store.
      '';
    };

  listen = net.hostPort cfg.listenAddress cfg.port;
  ha = cfg.homeAssistant;
  k8s = cfg.kubernetes;
  argo = cfg.argocd;
  vault = cfg.vault;
  forge = cfg.forge;
  docsRepo = cfg.docsRepository;

  # A read-only service's section of the document (Kubernetes, Argo CD).
  serviceSection =
    section: credential:
    if section.url == null then
      null
    else
      {
        inherit (section) url caFile timeout;
        token.credential = credential;
      };

  # Its options: the URL turns its tools on.
  serviceOptions =
    { what, example, tools, token }:
    {
      url = field types.str ''
        Where ${what} answers, e.g. `${example}`; its read-only tools
        (`${tools}`) are off when unset. Written as an IP address, it is the
        one remote address the unit may reach besides the other peers.
      '';
      tokenFile = secret token;
      caFile = field types.str "The CA (PEM) of ${what}'s certificate, trusted besides the system's.";
      timeout = defaultedField types.str "`10s`" "How long one request to ${what} may take.";
    };

  document = compact {
    inherit listen;
    stateDirectory = assistant.stateDirectory;
    clients = {
      keys = map (name: {
        inherit name;
        key.credential = assistant.clientKeyCredential name;
      }) (lib.attrNames cfg.clientKeys);
      inherit (cfg) allowUnauthenticatedLoopback;
    };
    rateLimit = cfg.rateLimit;
    inherit (cfg) allowedOrigins tools runbooks;
    router = {
      url =
        if cfg.router.url != null then
          cfg.router.url
        else
          net.httpUrl config.hwc.ai.router.listenAddress config.hwc.ai.router.port;
      inherit (cfg.router) model;
      apiKey = if cfg.router.apiKeyFile == null then null else { credential = assistant.routerKeyCredential; };
    };
    agent = cfg.agent;
    # "${file}": a Nix path is copied to the store, where --check-config reads it
    prompts =
      if cfg.prompts.systemFile == null && cfg.prompts.intentFile == null then
        null
      else
        lib.mapAttrs (_: file: if file == null then null else "${file}") cfg.prompts;
    grpc = if cfg.grpc.enable then { listen = net.hostPort cfg.grpc.listenAddress cfg.grpc.port; } else null;
    sessions = cfg.sessions;
    containers.socket = cfg.containers.socket;
    alerts = cfg.alerts;
    homeAssistant =
      if ha.url == null then
        null
      else
        {
          inherit (ha) url;
          token.credential = assistant.haTokenCredential;
          tls =
            if ha.tls.ca == null && ha.tls.clientCertificate == null && ha.tls.serverName == null then
              null
            else
              {
                inherit (ha.tls) ca clientCertificate serverName;
                clientKey = if ha.tls.clientKeyFile == null then null else { credential = assistant.haClientKeyCredential; };
              };
          actions = { inherit (ha.actions) enable entities; };
        };
    kubernetes = serviceSection k8s assistant.k8sTokenCredential;
    argocd = serviceSection argo assistant.argocdTokenCredential;
    vault = serviceSection vault assistant.vaultTokenCredential;
    forge =
      let
        section = serviceSection forge assistant.forgeTokenCredential;
      in
      if section == null || !forge.drafts.enable then
        section
      else
        section
        // {
          drafts = {
            enable = true;
            inherit (forge.drafts) repositories gitUrl;
            git = "${pkgs.git}/bin/git";
          };
        };
    web = if cfg.web.hosts == [ ] then null else { inherit (cfg.web) hosts allowHttp timeout; };
    docsRepository =
      if docsRepo.url == null then
        null
      else
        {
          inherit (docsRepo) url branch interval;
          token = if docsRepo.tokenFile == null then null else { credential = assistant.docsRepositoryTokenCredential; };
          git = "${pkgs.git}/bin/git";
        };
  };

  secretPaths = lib.filterAttrs (_: path: path != null) (
    lib.mapAttrs' (name: path: lib.nameValuePair "hwc.ai.assistant.clientKeys.${name}" path) cfg.clientKeys
    // {
      "hwc.ai.assistant.router.apiKeyFile" = cfg.router.apiKeyFile;
      "hwc.ai.assistant.homeAssistant.tokenFile" = ha.tokenFile;
      "hwc.ai.assistant.homeAssistant.tls.clientKeyFile" = ha.tls.clientKeyFile;
      "hwc.ai.assistant.kubernetes.tokenFile" = k8s.tokenFile;
      "hwc.ai.assistant.argocd.tokenFile" = argo.tokenFile;
      "hwc.ai.assistant.vault.tokenFile" = vault.tokenFile;
      "hwc.ai.assistant.forge.tokenFile" = forge.tokenFile;
      "hwc.ai.assistant.docsRepository.tokenFile" = docsRepo.tokenFile;
    }
  );

  credentials =
    lib.mapAttrs' (name: path: lib.nameValuePair (assistant.clientKeyCredential name) path) cfg.clientKeys
    // lib.optionalAttrs (cfg.router.apiKeyFile != null) { ${assistant.routerKeyCredential} = cfg.router.apiKeyFile; }
    // lib.optionalAttrs (ha.tokenFile != null) { ${assistant.haTokenCredential} = ha.tokenFile; }
    // lib.optionalAttrs (ha.tls.clientKeyFile != null) { ${assistant.haClientKeyCredential} = ha.tls.clientKeyFile; }
    // lib.optionalAttrs (k8s.tokenFile != null) { ${assistant.k8sTokenCredential} = k8s.tokenFile; }
    // lib.optionalAttrs (argo.tokenFile != null) { ${assistant.argocdTokenCredential} = argo.tokenFile; }
    // lib.optionalAttrs (vault.tokenFile != null) { ${assistant.vaultTokenCredential} = vault.tokenFile; }
    // lib.optionalAttrs (forge.tokenFile != null) { ${assistant.forgeTokenCredential} = forge.tokenFile; }
    // lib.optionalAttrs (docsRepo.tokenFile != null) {
      ${assistant.docsRepositoryTokenCredential} = docsRepo.tokenFile;
    };

  # The scheduled workflows' timers; with loopback needing a key, they
  # use the first client key's file.
  workflowUnits = assistant.workflowUnits {
    binDir = "${pkg}/bin";
    inherit (cfg) settings;
    keyFile =
      if cfg.allowUnauthenticatedLoopback || cfg.clientKeys == { } then
        null
      else
        builtins.head (lib.attrValues cfg.clientKeys);
  };

  checkedConfig = settingsLib.checked {
    daemon = "hwc-ai-assistant";
    package = pkg;
    inherit (cfg) settings;
  };

  toolNames = [
    "system_overview"
    "disk_usage"
    "services"
    "recent_failures"
    "containers"
    "ai_stack"
    "alerts"
    "docs_search"
    "ha_entities"
    "ha_light_on"
    "ha_light_off"
    "k8s_namespaces"
    "k8s_pods"
    "k8s_workloads"
    "k8s_events"
    "k8s_pod_logs"
    "k8s_nodes"
    "argocd_apps"
    "argocd_app"
    "vault_status"
    "vault_mounts"
    "vault_policies"
    "vault_kv_keys"
    "forge_repos"
    "forge_issues"
    "forge_pulls"
    "forge_pull"
    "forge_file"
    "forge_draft_pr"
    "web_fetch"
  ];
in
{
  options.hwc.ai.assistant = {
    enable = lib.mkEnableOption "hwc-ai-assistant, the read-only operations assistant";

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      description = "Where it listens. Beyond loopback, set `clientKeys`.";
    };
    port = mkOption {
      type = types.port;
      default = daemon.port;
      description = "Its port.";
    };
    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open `port` in the firewall.";
    };

    prompts = {
      systemFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = lib.literalExpression "./assistant-system-prompt.txt";
        description = ''
          A text file replacing the built-in system prompt (who the assistant
          is, this homelab, house rules). Copied to the Nix store and checked
          at build time; it may hold no `{placeholder}`.
        '';
      };
      intentFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = lib.literalExpression "./assistant-intent-prompt.txt";
        description = ''
          A text file replacing the built-in intent-classification prompt of
          `/v1/query` with Home Assistant actions. It must contain `{lights}`
          (the allowed entity ids); checked at build time.
        '';
      };
    };

    grpc = {
      enable = lib.mkEnableOption "the gRPC API, `ai.v1.AIService/Query` with the gRPC health service and server reflection, for chat bots built from the ai-gateway plan's proto (the same client keys as the HTTP API)";
      listenAddress = mkOption {
        type = types.str;
        default = "127.0.0.1";
        description = "Where the gRPC API listens. Beyond loopback, set `clientKeys`.";
      };
      port = mkOption {
        type = types.port;
        default = 50052;
        description = "The gRPC API's port (the ai-gateway plan's).";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Open the gRPC `port` in the firewall.";
      };
    };

    clientKeys = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        open-webui = "/run/secrets/assistant-key-open-webui";
      };
      description = ''
        Named bearer keys: client name -> absolute path of a file on the
        host holding its key, loaded with `LoadCredential=`. The name is
        what the audit log records.
      '';
    };
    allowUnauthenticatedLoopback = mkOption {
      type = types.bool;
      default = true;
      description = "Requests from 127.0.0.0/8 and ::1 need no key.";
    };
    allowedOrigins = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Browser origins allowed to call it (CORS).";
    };
    rateLimit = {
      requestsPerMinute = defaultedField types.ints.positive "`30`" "Sustained requests per minute per client.";
      burst = defaultedField types.ints.positive "`10`" "Requests a client may make at once.";
    };

    router = {
      url = field types.str "hwc-ai-router's (or any OpenAI-compatible) base URL, without `/v1`; the local router when unset.";
      model = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "llama3.2:3b";
        description = "The model or router profile it asks; it must support tool calls.";
      };
      apiKeyFile = secret "A client key for the router, when the router wants one.";
    };
    agent = {
      maxRounds = defaultedField types.ints.positive "`4`" "Model turns per question.";
      budget = defaultedField types.str "`90s`" "The whole question's time.";
    };
    sessions = {
      idleTimeout = defaultedField types.str "`30m`" "A session unused this long is removed.";
      keepLast = defaultedField types.ints.positive "`10`" "Turns kept besides the first.";
    };
    tools = mkOption {
      type = types.nullOr (types.listOf (types.enum toolNames));
      default = null;
      description = "The tools offered; all of them when unset (Home Assistant's, Kubernetes', Argo CD's, Vault's, the forge's and `web_fetch` only when configured).";
    };
    containers = {
      socket = field types.str ''
        The Docker or Podman API socket, e.g. `/run/docker.sock`. Its group
        (`containers.group`) can use the engine fully, which is root-
        equivalent; the assistant sends only GET requests.
      '';
      group = field types.str "The group that may use `containers.socket` (e.g. `docker`).";
    };
    alerts = {
      alertmanagerUrl = mkOption {
        type = types.nullOr types.str;
        default =
          let
            am = config.services.prometheus.alertmanager;
          in
          if am.enable then net.httpUrl am.listenAddress am.port else null;
        defaultText = lib.literalMD "this host's Alertmanager (`services.prometheus.alertmanager`) when it runs one";
        description = "Alertmanager's URL, for the `alerts` tool.";
      };
      prometheusUrl = mkOption {
        type = types.nullOr types.str;
        default =
          let
            prometheus = config.services.prometheus;
          in
          if prometheus.enable then net.httpUrl prometheus.listenAddress prometheus.port else null;
        defaultText = lib.literalMD "this host's Prometheus (`services.prometheus`) when it runs one";
        description = "Prometheus's URL, for the `alerts` tool when there is no Alertmanager (its firing alerts).";
      };
    };
    runbooks = field types.str "A directory of Markdown runbooks for `docs_search`.";
    docsRepository = {
      url = field types.str ''
        A git repository of Markdown runbooks (`https://git.lan/ops/runbooks.git`),
        fetched into the state directory at start and every `interval`;
        `docs_search` reads it as `repository/...` besides `runbooks`.
        Written as an IP address, its host joins the unit's IP allow list.
      '';
      branch = defaultedField types.str "`main`" "The branch fetched.";
      interval = defaultedField types.str "`15m`" "How often it is fetched.";
      tokenFile = secret "A token for a private repository (sent as HTTP basic credentials).";
    };

    homeAssistant = {
      url = field types.str "Home Assistant's URL; off when unset.";
      tokenFile = secret "A long-lived access token.";
      tls = {
        ca = field types.str "A CA (PEM) to trust for Home Assistant's certificate.";
        clientCertificate = field types.str "A client certificate (PEM), for installations that require one.";
        clientKeyFile = secret "The client certificate's private key (PEM).";
        serverName = field types.str "The name its certificate is checked against, when not the URL's host.";
      };
      actions = {
        enable = lib.mkEnableOption "switching the lights, switches and fans named in `entities` (chat bots' intents and the `ha_light_*` tools)";
        entities = mkOption {
          # The domains whose turn_on/turn_off the assistant calls
          # (SWITCHABLE in tools/home_assistant.rs); the daemon's
          # --check-config refuses others too.
          type = types.listOf (types.strMatching "(light|switch|fan|input_boolean)\\.[a-z0-9_]+");
          default = [ ];
          example = [
            "light.kitchen_ceiling"
            "switch.bathroom_fan"
          ];
          description = "The only entities it may switch: lights, switches, fans and input booleans. Users name them by their friendly names; a name that fits several gets a question back.";
        };
      };
    };

    kubernetes = serviceOptions {
      what = "the Kubernetes API server";
      example = "https://10.0.0.2:6443";
      tools = "k8s_*";
      token = "A service account token with get/list on namespaces, pods, pods/log, events, nodes and apps workloads (never Secrets: the tools do not read them whatever the token allows).";
    };
    argocd = serviceOptions {
      what = "Argo CD";
      example = "https://argocd.lan";
      tools = "argocd_*";
      token = "An Argo CD API token of an account with read-only rights (`role:readonly`).";
    };
    web = {
      hosts = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [
          "docs.k3s.io"
          "*.nixos.org"
        ];
        description = ''
          The hosts `web_fetch` may read pages from (`*.domain` for its
          subdomains, `host:port` for one port); the tool is off when
          empty. A host name lifts the unit's IP filter, as for any remote
          peer named by name.
        '';
      };
      allowHttp = mkOption {
        type = types.bool;
        default = false;
        description = "Fetch `http://` pages of the same hosts too.";
      };
      timeout = defaultedField types.str "`10s`" "How long one fetch (redirects and body included) may take.";
    };
    vault = serviceOptions {
      what = "Vault";
      example = "https://vault.lan:8200";
      tools = "vault_*";
      token = "A Vault token whose policy allows `read` on `sys/mounts` and `list` on `sys/policies/acl` and the KV `metadata/` paths to show (the tools never read a value, whatever the policy allows).";
    };
    forge =
      serviceOptions {
        what = "the Gitea or Forgejo forge";
        example = "https://git.lan";
        tools = "forge_*";
        token = "A Gitea/Forgejo access token with `read:repository` and `read:issue` (and `write:repository` for drafts; the tools send only the requests in docs/assistant.md, whatever the token allows).";
      }
      // {
        drafts = {
          enable = lib.mkEnableOption "`forge_draft_pr`: the assistant may propose changes to `repositories` as draft pull requests on a new branch (never the default branch; a person reviews and merges)";
          repositories = mkOption {
            type = types.listOf types.str;
            default = [ ];
            example = [ "ops/runbooks" ];
            description = "The only repositories (`owner/name`) drafts may go to.";
          };
          gitUrl = field types.str ''
            Where git pushes a draft's branch, `{repo}` standing for
            `owner/name`; `<url>/{repo}.git` when unset. Written as an IP
            address, its host joins the unit's IP allow list.
          '';
        };
      };
  }
  // settingsLib.documentOptions {
    name = "assistant";
    daemon = "hwc-ai-assistant";
    configFile = checkedConfig;
    example = {
      log.level = "debug";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      [
        {
          assertion = cfg.router.model != null;
          message = "hwc.ai.assistant.router.model: name the model or router profile the assistant asks (one that supports tool calls)";
        }
        {
          assertion = cfg.allowUnauthenticatedLoopback || cfg.clientKeys != { };
          message = "hwc.ai.assistant: allowUnauthenticatedLoopback = false and no clientKeys: no client could ask it";
        }
        {
          assertion = ha.url == null || ha.tokenFile != null;
          message = "hwc.ai.assistant.homeAssistant.tokenFile: Home Assistant needs a token";
        }
        {
          assertion = k8s.url == null || k8s.tokenFile != null;
          message = "hwc.ai.assistant.kubernetes.tokenFile: the Kubernetes tools need a read-only token";
        }
        {
          assertion = argo.url == null || argo.tokenFile != null;
          message = "hwc.ai.assistant.argocd.tokenFile: the Argo CD tools need a read-only token";
        }
        {
          assertion = forge.url == null || forge.tokenFile != null;
          message = "hwc.ai.assistant.forge.tokenFile: the forge tools need a token";
        }
        {
          assertion = !forge.drafts.enable || (forge.url != null && forge.drafts.repositories != [ ]);
          message = "hwc.ai.assistant.forge.drafts: drafts need forge.url and at least one repository";
        }
        {
          assertion = vault.url == null || vault.tokenFile != null;
          message = "hwc.ai.assistant.vault.tokenFile: the Vault tools need a token";
        }
        {
          assertion = (cfg.containers.socket == null) == (cfg.containers.group == null);
          message = "hwc.ai.assistant.containers: set socket and group together";
        }
      ]
      ++ lib.mapAttrsToList (option: path: {
        assertion = lib.hasPrefix "/" path;
        message = "${option}: `${path}` is not an absolute path";
      }) secretPaths
      ++ map (name: {
        assertion = assistant.isCredentialName name;
        message = "hwc.ai.assistant.clientKeys: `${name}` cannot name a credential; use A-Z a-z 0-9 _ . -";
      }) (lib.attrNames cfg.clientKeys);

    warnings = lib.mapAttrsToList (option: _: "${option} is in the Nix store, which every local user can read") (
      lib.filterAttrs (_: path: lib.hasPrefix "/nix/store/" path) secretPaths
    );

    hwc.ai.assistant.settings = defaultsDeep document;

    hwc.ai.internal.daemons.hwc-ai-assistant = {
      inherit (cfg.settings) listen;
    };

    systemd.services = {
      hwc-ai-assistant = assistant.unit {
        binDir = "${pkg}/bin";
        inherit (cfg) configFile settings limits;
        inherit credentials;
        containerGroup = cfg.containers.group;
      };
    }
    // workflowUnits.services;

    # a timer per workflow with a `schedule` (docs/workflows.md)
    systemd.timers = workflowUnits.timers;

    # a static system user: dbus-daemon drops dynamic users (lib/assistant.nix)
    users.users.${assistant.user} = {
      isSystemUser = true;
      group = assistant.user;
      description = "hwc-ai-assistant";
    };
    users.groups.${assistant.user} = { };

    networking.firewall.allowedTCPPorts =
      lib.optional cfg.openFirewall cfg.port
      ++ lib.optional (cfg.grpc.enable && cfg.grpc.openFirewall) cfg.grpc.port;
  };
}
