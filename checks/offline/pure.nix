# Expectations on the pure functions of `modules/lib/` (no nixpkgs needed),
# in the same { case, what, ok, got, want } form as eval.nix.
#
#   nix-instantiate --eval --strict --json checks/offline/pure.nix
let
  net = import ../../modules/lib/net.nix;
  units = import ../../modules/lib/units.nix;
  prober = import ../../modules/lib/prober.nix;
  util = import ../../modules/lib/util.nix;
  daemons = import ../../modules/lib/daemons.nix;
  hardening = import ../../modules/lib/hardening.nix;
  router = import ../../modules/lib/router.nix;
  mcp = import ../../modules/lib/mcp.nix;

  # The Rust table's rows, `daemon!(PROBER, "prober", 9430, "...")`, in order.
  rustDaemons = map
    (groups: {
      name = builtins.elemAt groups 0;
      port = builtins.fromJSON (builtins.elemAt groups 1);
    })
    (
      builtins.filter builtins.isList (
        builtins.split ''daemon!\([A-Z_]+, "([a-z-]+)", ([0-9]+),'' (
          builtins.readFile ../../crates/runtime/src/daemons.rs
        )
      )
    );

  expect = case: list: map (e: e // { inherit case; ok = e.got == e.want; }) list;

  loopbackOnly = {
    IPAddressDeny = "any";
    IPAddressAllow = [ "localhost" ];
  };

  unit = prober.unit {
    binDir = "/opt/hwc-ai/bin";
    configFile = "/etc/hwc-ai/hwc-ai-prober.json";
    settings = prober.document {
      listen = "127.0.0.1:9430";
      interval = "30s";
      timeout = "5s";
      failureThreshold = 3;
      successThreshold = 2;
      targets = prober.defaultTargets { ollama = { host = "127.0.0.1"; port = 11434; }; };
    };
    credentials = {
      b = "/run/secrets/b";
      a = "/run/secrets/a";
    };
    after = [ "ollama.service" ];
  };

  local = {
    listen = "127.0.0.1:9432";
    ollamaUrl = "http://127.0.0.1:11434";
  };
  routerUnit =
    args:
    router.unit {
      binDir = "/opt/hwc-ai/bin";
      configFile = "/etc/hwc-ai/hwc-ai-router.json";
      settings = router.document (local // args);
      credentials = router.credentials args;
    };
  cloudArgs = {
    cloud.openai.apiKeyFile = "/run/secrets/openai";
    clientKeys.bot = "/run/secrets/bot";
  };
  modelsOf = doc: map (r: r.model) doc.routes;

  mcpServers = {
    time = {
      command = "/bin/mcp-server-time";
      args = [ "--local-timezone=UTC" ];
      environment.TZ = "UTC";
      secretEnvironment.TOKEN = "/run/secrets/token";
      tools.deny = [ "set_*" ];
    };
    docs = {
      url = "https://mcp.example.com/mcp";
      transport = "sse";
      bearerTokenFile = "/run/secrets/docs";
      readOnly = true;
    };
    lan = {
      url = "http://192.0.2.9:8000/mcp";
    };
  };
  mcpUnit =
    servers:
    mcp.unit {
      binDir = "/opt/hwc-ai/bin";
      configFile = "/etc/hwc-ai/hwc-ai-mcp.json";
      settings = mcp.document {
        listen = "127.0.0.1:9433";
        inherit servers;
      };
      sockets = builtins.attrNames (mcp.stdioServers servers);
    };
  serverService =
    sandbox:
    mcp.serverService {
      binDir = "/opt/hwc-ai/bin";
      name = "time";
      configFile = "/etc/hwc-ai/hwc-ai-mcp-server-time.json";
      credentials.TOKEN = "/run/secrets/token";
      inherit sandbox;
    };
in
expect "daemons.nix" [
  {
    what = "modules/lib/daemons.nix has the daemons of crates/runtime/src/daemons.rs, in its order, with its ports";
    got =
      let
        nix = map (daemon: { inherit (daemon) name port; }) daemons.all;
        names = map (d: d.name);
        portIn = table: name: (builtins.head (builtins.filter (d: d.name == name) table)).port;
        onlyIn =
          what: table: other:
          map (name: "${name}: only in ${what}") (
            builtins.filter (name: !(builtins.elem name (names other))) (names table)
          );
        sorted = table: builtins.sort builtins.lessThan (names table);
        both = builtins.filter (name: builtins.elem name (names rustDaemons)) (names nix);
      in
      onlyIn "modules/lib/daemons.nix" nix rustDaemons
      ++ onlyIn "crates/runtime/src/daemons.rs" rustDaemons nix
      ++ map (name: "${name}: port ${toString (portIn nix name)} in Nix, ${toString (portIn rustDaemons name)} in Rust") (
        builtins.filter (name: portIn nix name != portIn rustDaemons name) both
      )
      ++ (
        if names nix == names rustDaemons || sorted nix != sorted rustDaemons then
          [ ]
        else
          [ "order: ${toString (names nix)} in Nix, ${toString (names rustDaemons)} in Rust" ]
      );
    want = [ ];
  }
  {
    what = "crates/runtime/src/daemons.rs still reads as the rows this check parses";
    got = builtins.length rustDaemons > 0;
    want = true;
  }
]
++ expect "net.nix" [
  {
    what = "an address written with brackets or without makes one URL";
    got = [
      (net.httpUrl "[::]" 11434)
      (net.httpUrl "::" 11434)
      (net.httpUrl "[fd00::5]" 11434)
      (net.httpUrl "0.0.0.0" 11434)
      (net.hostPort "[::1]" 9430)
    ];
    want = [
      "http://[::1]:11434"
      "http://[::1]:11434"
      "http://[fd00::5]:11434"
      "http://127.0.0.1:11434"
      "[::1]:9430"
    ];
  }
  {
    what = "hostOf URLs and addresses";
    got = map net.hostOf [
      "http://127.0.0.1:11434"
      "http://[::1]:8080/x"
      "https://user:pw@grafana.lan/api"
      "grafana.lan:443"
      "10.1.2.3:5432"
    ];
    want = [
      "127.0.0.1"
      "::1"
      "grafana.lan"
      "grafana.lan"
      "10.1.2.3"
    ];
  }
  {
    what = "loopback hosts";
    got = map net.isLoopback [
      "localhost"
      "127.0.0.53"
      "::1"
      "10.0.0.1"
      "localhost.lan"
      null
    ];
    want = [
      true
      true
      true
      false
      false
      false
    ];
  }
  {
    what = "wildcard listeners are reached through loopback";
    got = map net.localAddress [
      "0.0.0.0:9430"
      "[::]:9430"
      "[::1]:9430"
      "10.0.0.2:9430"
    ];
    want = [
      "127.0.0.1:9430"
      "[::1]:9430"
      "[::1]:9430"
      "10.0.0.2:9430"
    ];
  }
]
++ expect "units.nix" [
  {
    what = "all peers on loopback: loopback only";
    got = units.ipAddressRules {
      listen = "127.0.0.1:9430";
      peers = [
        "127.0.0.1"
        "localhost"
        "::1"
      ];
    };
    want = loopbackOnly;
  }
  {
    what = "remote peers by IP: those IPs and loopback";
    got = units.ipAddressRules {
      listen = "[::1]:9430";
      peers = [
        "127.0.0.1"
        "192.0.2.7"
        "2001:db8::1"
      ];
    };
    want = {
      IPAddressDeny = "any";
      IPAddressAllow = [
        "localhost"
        "192.0.2.7"
        "2001:db8::1"
      ];
    };
  }
  {
    what = "a peer by host name, or known only at run time: no filter";
    got = map (peers: units.ipAddressRules {
      listen = "127.0.0.1:9430";
      inherit peers;
    }) [ [ "grafana.lan" ] [ null ] ];
    want = [ { } { } ];
  }
  {
    what = "listening beyond loopback: no filter";
    got = units.ipAddressRules {
      listen = "0.0.0.0:9430";
      peers = [ ];
    };
    want = { };
  }
]
++ expect "prober.nix" [
  {
    what = "default targets from what is enabled";
    got = prober.defaultTargets {
      ollama = {
        host = "::";
        port = 11434;
      };
      openWebui = {
        host = "127.0.0.1";
        port = 8080;
      };
      daemons.hwc-ai-router.listen = "127.0.0.1:9432";
    };
    want = [
      {
        name = "ollama";
        kind = "ollama";
        url = "http://[::1]:11434";
      }
      {
        name = "open-webui";
        kind = "open-webui";
        url = "http://127.0.0.1:8080";
      }
      {
        name = "hwc-ai-router";
        kind = "hwc-ai";
        url = "http://127.0.0.1:9432";
      }
    ];
  }
  {
    what = "unset fields are absent, not null";
    got = util.compact {
      a = null;
      b = [
        {
          c = null;
          d = 1;
        }
      ];
      e.f = null;
    };
    want = {
      b = [ { d = 1; } ];
      e = { };
    };
  }
  {
    what = "credentials used anywhere in a document, in key order";
    got = util.credentialsUsed {
      targets = [ { bearerToken.credential = "t"; } { bearerToken.file = "/f"; } ];
      alerts.webhooks = [ { urlFrom.credential = "u"; } ];
    };
    want = [
      "u"
      "t"
    ];
  }
  {
    what = "peers: target hosts, null for a URL from a secret";
    got = prober.peers {
      targets = [
        { url = "http://127.0.0.1:11434"; }
        { address = "db.lan:5432"; }
      ];
      alerts.webhooks = [
        { urlFrom.credential = "u"; }
        { url = "http://10.0.0.9/hook"; }
      ];
    };
    want = [
      "127.0.0.1"
      "db.lan"
      null
      "10.0.0.9"
    ];
  }
  {
    what = "the prober unit runs the binary on the config";
    got = unit.serviceConfig.ExecStart;
    want = "/opt/hwc-ai/bin/hwc-ai-prober --config /etc/hwc-ai/hwc-ai-prober.json";
  }
  {
    what = "the prober unit loads credentials, sorted";
    got = unit.serviceConfig.LoadCredential;
    want = [
      "a:/run/secrets/a"
      "b:/run/secrets/b"
    ];
  }
  {
    what = "the prober unit is notify, watchdog, restart with backoff";
    got = {
      inherit (unit.serviceConfig)
        Type
        NotifyAccess
        WatchdogSec
        Restart
        RestartSec
        RestartSteps
        RestartMaxDelaySec
        ;
    };
    want = {
      Type = "notify";
      NotifyAccess = "main";
      WatchdogSec = "30s";
      Restart = "on-failure";
      RestartSec = "1s";
      RestartSteps = 10;
      RestartMaxDelaySec = "1min";
    };
  }
  {
    what = "the prober unit keeps the whole hardening baseline, loopback only";
    got = builtins.intersectAttrs (hardening // loopbackOnly) unit.serviceConfig;
    want = hardening // loopbackOnly;
  }
  {
    what = "the prober unit starts after the network and what it probes";
    got = unit.after;
    want = [
      "network-online.target"
      "ollama.service"
    ];
  }
]
++ expect "router.nix" [
  {
    what = "the default document: the local Ollama, every model routed to it";
    got = router.document local;
    want = {
      listen = "127.0.0.1:9432";
      clients = {
        keys = [ ];
        allowUnauthenticatedLoopback = true;
      };
      backends = [
        {
          name = "ollama";
          kind = "openai-compatible";
          baseUrl = "http://127.0.0.1:11434/v1";
          listModels = true;
        }
      ];
      routes = [
        {
          model = "*";
          targets = [ { backend = "ollama"; } ];
        }
      ];
    };
  }
  {
    what = "aliases and routes first, tagged names local ahead of the cloud patterns, the rest to Ollama last";
    got = modelsOf (
      router.document (
        local
        // cloudArgs
        // {
          cloud.anthropic = {
            apiKeyFile = "/run/secrets/anthropic";
            models = [ "claude-*" ];
          };
          aliases.local-fast = "llama3.2:3b";
          routes = [
            {
              model = "mistral-*";
              targets = [ { backend = "ollama"; } ];
            }
          ];
        }
      )
    );
    want = [
      "local-fast"
      "mistral-*"
      "*:*"
      "claude-*"
      "*"
    ];
  }
  {
    what = "a cloud backend: remote, its key a credential, never a path";
    got = builtins.elemAt (router.document (local // cloudArgs)).backends 1;
    want = {
      name = "openai";
      kind = "openai-compatible";
      baseUrl = "https://api.openai.com/v1";
      remote = true;
      apiKey.credential = "openai-api-key";
    };
  }
  {
    what = "an alias given as a model is that model on the local Ollama";
    got = builtins.head (router.document (local // { aliases.fast = "llama3.2:3b"; })).routes;
    want = {
      model = "fast";
      targets = [
        {
          backend = "ollama";
          model = "llama3.2:3b";
        }
      ];
    };
  }
  {
    what = "client keys by credential name";
    got = (router.document (local // cloudArgs)).clients.keys;
    want = [
      {
        name = "bot";
        key.credential = "router-key-bot";
      }
    ];
  }
  {
    what = "credentials: API keys and client keys, name -> path";
    got = router.credentials cloudArgs;
    want = {
      openai-api-key = "/run/secrets/openai";
      router-key-bot = "/run/secrets/bot";
    };
  }
  {
    what = "Ollama on a non-loopback address of this host is said to be remote";
    got = builtins.head (router.document (local // { ollamaUrl = "http://192.0.2.4:11434"; })).backends;
    want = {
      name = "ollama";
      kind = "openai-compatible";
      baseUrl = "http://192.0.2.4:11434/v1";
      remote = true;
      listModels = true;
    };
  }
  {
    what = "targets naming no backend";
    got = router.unknownBackends (router.document (local // { aliases.x = [ { backend = "openai"; } ]; }));
    want = [ "openai" ];
  }
  {
    what = "the router unit: notify, watchdog, the whole hardening, loopback only";
    got = builtins.intersectAttrs (
      hardening
      // loopbackOnly
      // {
        Type = null;
        WatchdogSec = null;
        ExecStart = null;
        LoadCredential = null;
      }
    ) (routerUnit { }).serviceConfig;
    want =
      hardening
      // loopbackOnly
      // {
        Type = "notify";
        WatchdogSec = "30s";
        ExecStart = "/opt/hwc-ai/bin/hwc-ai-router --config /etc/hwc-ai/hwc-ai-router.json";
        LoadCredential = [ ];
      };
  }
  {
    what = "the router unit with a cloud provider: no IP filter, its keys loaded";
    got = {
      filtered = (routerUnit cloudArgs).serviceConfig ? IPAddressDeny;
      inherit ((routerUnit cloudArgs).serviceConfig) LoadCredential;
    };
    want = {
      filtered = false;
      LoadCredential = [
        "openai-api-key:/run/secrets/openai"
        "router-key-bot:/run/secrets/bot"
      ];
    };
  }
  {
    what = "the router unit with a profiles file: loaded as a credential, named in the environment";
    got =
      let
        unit = router.unit {
          binDir = "/opt/hwc-ai/bin";
          configFile = "/etc/hwc-ai/hwc-ai-router.json";
          settings = router.document local;
          credentials = router.credentials { profilesFile = "/etc/llm/profiles.json"; };
        };
      in
      {
        inherit (unit.serviceConfig) LoadCredential;
        inherit (unit) environment;
      };
    want = {
      LoadCredential = [ "router-profiles:/etc/llm/profiles.json" ];
      environment.HWC_AI_ROUTER_PROFILES_FILE = "%d/router-profiles";
    };
  }
  {
    what = "profiles: targets as an alias's, unset defaults and empty params left out";
    got =
      (router.document (
        local
        // {
          profiles.triage = {
            targets = "qwen3:8b";
            temperature = 0.2;
            maxTokens = null;
            params = { };
          };
        }
      )).profiles;
    want = [
      {
        name = "triage";
        targets = [
          {
            backend = "ollama";
            model = "qwen3:8b";
          }
        ];
        temperature = 0.2;
      }
    ];
  }
  {
    what = "the router unit with a LAN backend by IP address: that address and loopback";
    got = {
      inherit
        ((routerUnit {
          backends.gpu = {
            baseUrl = "http://10.0.0.5:11434/v1";
            remote = true;
          };
        }).serviceConfig
        )
        IPAddressDeny
        IPAddressAllow
        ;
    };
    want = {
      IPAddressDeny = "any";
      IPAddressAllow = [
        "localhost"
        "10.0.0.5"
      ];
    };
  }
]
++ expect "mcp.nix" [
  {
    what = "the gateway's document: a stdio server by its socket, a remote one by URL and token credential";
    got = mcp.document {
      listen = "127.0.0.1:9433";
      servers = mcpServers;
      clientKeys.webui = "/run/secrets/webui";
    };
    want = {
      listen = "127.0.0.1:9433";
      allowedOrigins = [ ];
      clients = {
        keys = [
          {
            name = "webui";
            key.credential = "mcp-key-webui";
          }
        ];
        allowUnauthenticatedLoopback = true;
      };
      servers = [
        {
          name = "docs";
          url = "https://mcp.example.com/mcp";
          transport = "sse";
          bearerToken.credential = "mcp-token-docs";
          readOnly = true;
        }
        {
          name = "lan";
          url = "http://192.0.2.9:8000/mcp";
          transport = "streamable-http";
        }
        {
          name = "time";
          socket = "/run/hwc-ai-mcp/time.sock";
          tools.deny = [ "set_*" ];
        }
      ];
    };
  }
  {
    what = "a wrapper's document: the command, its environment, secrets by credential name, never a path";
    got = mcp.wrapDocument "time" mcpServers.time;
    want = {
      name = "time";
      socket = "/run/hwc-ai-mcp/time.sock";
      command = "/bin/mcp-server-time";
      args = [ "--local-timezone=UTC" ];
      env.TZ = "UTC";
      secretEnv.TOKEN.credential = "TOKEN";
    };
  }
  {
    what = "the gateway's credentials: client keys and bearer tokens, name -> path";
    got = mcp.credentials {
      servers = mcpServers;
      clientKeys.webui = "/run/secrets/webui";
    };
    want = {
      mcp-key-webui = "/run/secrets/webui";
      mcp-token-docs = "/run/secrets/docs";
    };
  }
  {
    what = "names: servers as the daemon takes them, variables as credentials";
    got = {
      servers = map mcp.isServerName [
        "time"
        "my_server-2"
        "Time"
        "-x"
        "a.b"
      ];
      variables = map mcp.isVariableName [
        "GITHUB_TOKEN"
        "_x"
        "2X"
        "A-B"
      ];
    };
    want = {
      servers = [
        true
        true
        false
        false
        false
      ];
      variables = [
        true
        true
        false
        false
      ];
    };
  }
  {
    what = "the gateway's unit: notify, the whole hardening but the sockets' group, loopback only with stdio servers";
    got =
      let
        unit = mcpUnit { inherit (mcpServers) time; };
      in
      {
        hardening = builtins.intersectAttrs hardening unit.serviceConfig == hardening;
        inherit (unit.serviceConfig)
          Type
          ExecStart
          IPAddressDeny
          IPAddressAllow
          SupplementaryGroups
          ;
        inherit (unit) after wants;
      };
    want = {
      hardening = true;
      Type = "notify";
      ExecStart = "/opt/hwc-ai/bin/hwc-ai-mcp --config /etc/hwc-ai/hwc-ai-mcp.json";
      IPAddressDeny = "any";
      IPAddressAllow = [ "localhost" ];
      SupplementaryGroups = [ "hwc-ai-mcp-sockets" ];
      after = [
        "network-online.target"
        "hwc-ai-mcp-server-time.socket"
      ];
      wants = [
        "network-online.target"
        "hwc-ai-mcp-server-time.socket"
      ];
    };
  }
  {
    what = "the gateway's unit: a remote server by IP adds that address; by host name lifts the filter; no group without sockets";
    got = {
      lan = {
        inherit ((mcpUnit { inherit (mcpServers) lan; }).serviceConfig) IPAddressDeny IPAddressAllow;
      };
      docs = (mcpUnit { inherit (mcpServers) docs; }).serviceConfig ? IPAddressDeny;
      group = (mcpUnit { inherit (mcpServers) docs; }).serviceConfig ? SupplementaryGroups;
    };
    want = {
      lan = {
        IPAddressDeny = "any";
        IPAddressAllow = [
          "localhost"
          "192.0.2.9"
        ];
      };
      docs = false;
      group = false;
    };
  }
  {
    what = "a server's socket: root's, mode 0660, the sockets' group, started with sockets.target";
    got = mcp.serverSocket { name = "time"; };
    want = {
      description = "hwc-ai MCP server time's socket";
      wantedBy = [ "sockets.target" ];
      listenStreams = [ "/run/hwc-ai-mcp/time.sock" ];
      socketConfig = {
        SocketMode = "0660";
        SocketGroup = "hwc-ai-mcp-sockets";
        RemoveOnStop = true;
      };
    };
  }
  {
    what = "a server's unit by default: the wrapper, no network, bounded, a cache for HOME, started by its socket";
    got =
      let
        unit = serverService { };
      in
      {
        inherit (unit) wantedBy after environment;
        inherit (unit.serviceConfig)
          Type
          WatchdogSec
          Restart
          ExecStart
          DynamicUser
          PrivateNetwork
          IPAddressDeny
          MemoryMax
          CPUQuota
          CacheDirectory
          LoadCredential
          ProtectHome
          KillMode
          ;
        bound = unit.serviceConfig ? BindPaths || unit.serviceConfig ? BindReadOnlyPaths;
      };
    want = {
      wantedBy = [ ];
      after = [ ];
      environment.HOME = "%C/hwc-ai-mcp-server-time";
      Type = "notify";
      WatchdogSec = "30s";
      Restart = "on-failure";
      ExecStart = "/opt/hwc-ai/bin/hwc-ai-mcp wrap --config /etc/hwc-ai/hwc-ai-mcp-server-time.json";
      DynamicUser = true;
      PrivateNetwork = true;
      IPAddressDeny = "any";
      MemoryMax = "512M";
      CPUQuota = "100%";
      CacheDirectory = "hwc-ai-mcp-server-time";
      LoadCredential = [ "TOKEN:/run/secrets/token" ];
      ProtectHome = true;
      KillMode = "mixed";
      bound = false;
    };
  }
  {
    what = "a server's unit with the network and paths: no private network, no IP filter, the paths bound into an empty /home";
    got =
      let
        unit = serverService {
          network = true;
          readOnlyPaths = [ "/home/alice/notes" ];
          readWritePaths = [ "/srv/scratch" ];
          memoryMax = "1G";
          cpuQuota = "50%";
        };
      in
      {
        inherit (unit) after;
        inherit (unit.serviceConfig)
          PrivateNetwork
          ProtectHome
          BindReadOnlyPaths
          BindPaths
          MemoryMax
          CPUQuota
          ;
        filtered = unit.serviceConfig ? IPAddressDeny;
      };
    want = {
      after = [ "network-online.target" ];
      PrivateNetwork = false;
      ProtectHome = "tmpfs";
      BindReadOnlyPaths = [ "/home/alice/notes" ];
      BindPaths = [ "/srv/scratch" ];
      MemoryMax = "1G";
      CPUQuota = "50%";
      filtered = false;
    };
  }
]
