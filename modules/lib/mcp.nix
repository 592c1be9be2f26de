# hwc-ai-mcp's config documents (docs/mcp.md) and units, as pure functions:
# the gateway, and one `hwc-ai-mcp wrap` per stdio server behind a unix
# socket.
#
# Plain Nix: no `pkgs`, no `lib`. `modules/mcp.nix` feeds the typed
# `hwc.ai.mcp.*` options through these into `hwc.ai.mcp.settings` and the
# units; the offline checks render the same documents and units, and hand
# the documents to `hwc-ai-mcp --check-config` and `hwc-ai-mcp wrap
# --check-config`.
#
# Each stdio server runs in a unit of its own, with its own sandbox (no
# network unless it says so, its own paths, memory and CPU bounds): systemd
# holds its socket (`hwc-ai-mcp-server-<name>.socket`) and starts the
# wrapper on the first connection; the gateway, in another unit, reaches it
# through the socket, whose group is its only key.
let
  net = import ./net.nix;
  daemon = (import ./daemons.nix).mcp;
  units = import ./units.nix;
  inherit (import ./util.nix) compact;

  filterAttrs =
    pred: attrs:
    builtins.removeAttrs attrs (
      builtins.filter (name: !(pred name attrs.${name})) (builtins.attrNames attrs)
    );
  mapAttrs' =
    f: attrs:
    builtins.listToAttrs (map (name: f name attrs.${name}) (builtins.attrNames attrs));
  nonEmpty = value: if value == { } || value == [ ] then null else value;

  # The static group of the wrappers' sockets; the gateway is its only
  # member. Not `hwc-ai-mcp`: DynamicUser= names the gateway's own user and
  # group after its unit, and refuses to start when a group has that name.
  group = "hwc-ai-mcp-sockets";
  # Where the sockets are, one per stdio server.
  socketDir = "/run/hwc-ai-mcp";
  socketPath = name: "${socketDir}/${name}.sock";
  # The socket and service units of one stdio server.
  serverUnit = name: "hwc-ai-mcp-server-${name}";

  # What a server name may be: a URL path segment (`/mcp/<name>`), part of a
  # unit name and a metric label (the daemon checks the same).
  isServerName = name: builtins.match "[a-z0-9][a-z0-9_-]*" name != null;
  # An environment variable that is also a credential name
  # ($CREDENTIALS_DIRECTORY/<VAR>): letters, digits, underscores.
  isVariableName = name: builtins.match "[A-Za-z_][A-Za-z0-9_]*" name != null;
  # A client name that can name a credential (see router.nix).
  isCredentialName = name: builtins.match "[A-Za-z0-9_.-]+" name != null;

  # systemd credential names (LoadCredential=NAME:PATH), read as
  # $CREDENTIALS_DIRECTORY/NAME. Distinct prefixes, so a client and a
  # server can never share one.
  clientKeyCredential = name: "mcp-key-${name}";
  bearerTokenCredential = server: "mcp-token-${server}";

  isStdio = s: (s.command or null) != null;

  # The policy fields every server has, unset ones left out.
  policy =
    s:
    compact {
      tools =
        let
          allow = s.tools.allow or [ ];
          deny = s.tools.deny or [ ];
        in
        if allow == [ ] && deny == [ ] then
          null
        else
          compact {
            allow = nonEmpty allow;
            deny = nonEmpty deny;
          };
      readOnly = if s.readOnly or false then true else null;
    };

  # One server of the gateway's document: a stdio server is reached through
  # its wrapper's socket, a remote one at its URL. `bearerTokenFile` (a path
  # on the host) becomes a credential reference; the path itself never
  # enters the document.
  server =
    name: s:
    {
      inherit name;
    }
    // (
      if isStdio s then
        { socket = socketPath name; }
      else
        compact {
          inherit (s) url;
          transport = s.transport or "streamable-http";
          headers = nonEmpty (s.headers or { });
          bearerToken =
            if (s.bearerTokenFile or null) == null then
              null
            else
              { credential = bearerTokenCredential name; };
        }
    )
    // policy s;

  # The gateway's document the typed options describe.
  #   listen: "host:port"
  #   servers: name -> { command, args, environment, secretEnvironment, url,
  #     transport, headers, bearerTokenFile, tools = { allow, deny },
  #     readOnly, ... } (the module's `hwc.ai.mcp.servers`)
  #   clientKeys: client name -> key file on the host
  #   allowedOrigins, allowedHosts: the browser and DNS-rebinding guards;
  #     allowedHosts null leaves the daemon's default
  #   checkInterval: null for the daemon's default
  document =
    {
      listen,
      servers ? { },
      clientKeys ? { },
      allowUnauthenticatedLoopback ? true,
      allowedOrigins ? [ ],
      allowedHosts ? null,
      checkInterval ? null,
    }:
    compact {
      inherit
        listen
        allowedOrigins
        allowedHosts
        checkInterval
        ;
      clients = {
        keys = map (name: {
          inherit name;
          key.credential = clientKeyCredential name;
        }) (builtins.attrNames clientKeys);
        inherit allowUnauthenticatedLoopback;
      };
      servers = map (name: server name servers.${name}) (builtins.attrNames servers);
    };

  # The wrapper's document for one stdio server. Each `secretEnvironment`
  # variable is a credential of the same name, loaded by the server's unit.
  #   log: the gateway's `log` settings, so one setting covers every unit
  wrapDocument =
    name: s:
    compact {
      inherit name;
      socket = socketPath name;
      inherit (s) command;
      args = nonEmpty (s.args or [ ]);
      env = nonEmpty (s.environment or { });
      secretEnv = nonEmpty (
        builtins.mapAttrs (var: _: { credential = var; }) (s.secretEnvironment or { })
      );
      initializeTimeout = s.initializeTimeout or null;
      log = s.log or null;
    };

  stdioServers = servers: filterAttrs (_: isStdio) servers;

  # Credentials the gateway loads: credential name -> path on the host.
  credentials =
    {
      servers ? { },
      clientKeys ? { },
    }:
    mapAttrs' (name: path: {
      name = clientKeyCredential name;
      value = path;
    }) clientKeys
    // mapAttrs' (name: s: {
      name = bearerTokenCredential name;
      value = s.bearerTokenFile;
    }) (filterAttrs (_: s: (s.bearerTokenFile or null) != null) servers);

  # The hosts a gateway document makes it connect to: its remote servers'.
  # Wrapped servers are unix sockets, outside any IP filter.
  peers = doc: map (s: net.hostOf s.url) (builtins.filter (s: s ? url) (doc.servers or [ ]));

  # The hwc-ai-mcp unit, `systemd.services.hwc-ai-mcp`.
  #   limits: the unit's resource limits (units.nix `resourceLimits`)
  #   binDir: directory of the hwc-ai binaries
  #   configFile: path of the (checked) config document
  #   settings: the document itself, for the listen address and the peers
  #   credentials: name -> path, LoadCredential= (client keys, bearer tokens)
  #   sockets: the names of the stdio servers it reaches through sockets
  #
  # The IP filter follows the remote servers, as the router's follows its
  # backends (units.nix): loopback only while there is none, their
  # addresses when given as IP addresses, no filter for a host name.
  unit =
    {
      binDir,
      configFile,
      settings,
      credentials ? { },
      sockets ? [ ],
      limits ? daemon.limits,
    }:
    let
      socketUnits = map (name: "${serverUnit name}.socket") sockets;
      base = units.service {
        inherit limits;
        name = daemon.unit;
        description = "hwc-ai ${daemon.description}";
        documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/${daemon.docs}" ];
        execStart = "${binDir}/hwc-ai-mcp --config ${configFile}";
        listen = settings.listen or daemon.listen;
        peers = peers settings;
        # the sockets exist before its first check; each server starts on
        # that first connection, and one that fails is reported down, not a
        # reason to stop the gateway
        after = socketUnits;
        wants = socketUnits;
        inherit credentials;
      };
    in
    base
    // {
      serviceConfig =
        base.serviceConfig
        // (
          if sockets == [ ] then
            { }
          else
            {
              # hardening.nix has no supplementary groups: this one is the
              # key to the wrappers' sockets (SocketGroup=, mode 0660), and
              # the gateway is its only member
              SupplementaryGroups = [ group ];
            }
        );
    };

  # `systemd.sockets.hwc-ai-mcp-server-<name>`: systemd holds the socket,
  # so the gateway can connect before the server runs, and across its
  # restarts.
  #   name: the server's name
  #   path: the socket, as the gateway's document names it
  serverSocket =
    {
      name,
      path ? socketPath name,
    }:
    {
      description = "hwc-ai MCP server ${name}'s socket";
      wantedBy = [ "sockets.target" ];
      listenStreams = [ path ];
      socketConfig = {
        # root's, readable and writable by the group, which only the
        # gateway's unit joins
        SocketMode = "0660";
        SocketGroup = group;
        RemoveOnStop = true;
      };
    };

  # `systemd.services.hwc-ai-mcp-server-<name>`: `hwc-ai-mcp wrap` running
  # one stdio server, started by its socket.
  #   binDir: directory of the hwc-ai binaries
  #   name: the server's name
  #   configFile: path of the (checked) wrapper document
  #   credentials: name -> path, LoadCredential= (secretEnvironment)
  #   sandbox: { network, readOnlyPaths, readWritePaths, memoryMax, cpuQuota,
  #     tasksMax, openFiles }
  serverService =
    {
      binDir,
      name,
      configFile,
      credentials ? { },
      sandbox ? { },
    }:
    let
      unitName = serverUnit name;
      network = sandbox.network or false;
      readOnlyPaths = sandbox.readOnlyPaths or [ ];
      readWritePaths = sandbox.readWritePaths or [ ];
      memoryMax = sandbox.memoryMax or "512M";
      cpuQuota = sandbox.cpuQuota or "100%";
      bound = readOnlyPaths != [ ] || readWritePaths != [ ];
      base = units.service {
        name = unitName;
        description = "hwc-ai MCP server ${name} (stdio, behind ${socketPath name})";
        documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/docs/mcp.md" ];
        execStart = "${binDir}/hwc-ai-mcp wrap --config ${configFile}";
        # it listens on a unix socket only; the IP filter is about its
        # peers: none but its own loopback without the network, any with it
        listen = "localhost";
        peers = if network then [ null ] else [ ];
        inherit credentials;
        # MemoryMax= and CPUQuota= are sandbox's, set below
        limits = {
          # node (npx) runs about a dozen threads, and a server may start
          # children of its own
          tasksMax = sandbox.tasksMax or 256;
          openFiles = sandbox.openFiles or 4096;
        };
      };
      cacheDirectory = unitName;
    in
    base
    // {
      # Started by its socket (the implied Sockets= orders it after the
      # socket and pulls the socket in), not at boot: the gateway's first
      # check is the first connection.
      wantedBy = [ ];
      after = if network then base.after else [ ];
      wants = if network then base.wants else [ ];
      environment = base.environment // {
        # servers started through npx or uvx keep their downloads under
        # $HOME (~/.npm, ~/.cache/uv): the unit's own cache directory, the
        # one place it may write besides its private /tmp
        HOME = "%C/${cacheDirectory}";
      };
      serviceConfig =
        base.serviceConfig
        // {
          # a stdio server needs no network unless it says so: then it has
          # only a loopback of its own
          PrivateNetwork = !network;
          # node (npx) and other JIT runtimes make written memory
          # executable, which this forbids: they would not start. A server
          # in Go, Rust or C can have it back (mkForce true).
          MemoryDenyWriteExecute = false;
          CacheDirectory = cacheDirectory;
          # the wrapper stops the server's process group itself (SIGTERM,
          # then SIGKILL after a grace period) once requests have drained;
          # systemd's SIGKILL is for whatever is left at the end
          KillMode = "mixed";
          MemoryMax = memoryMax;
          CPUQuota = cpuQuota;
        }
        // (
          if bound then
            {
              # the paths are bound into an empty, read-only /home (and
              # /root, /run/user), so a directory there can be handed over
              # while the rest stays hidden
              ProtectHome = "tmpfs";
            }
          else
            { }
        )
        // (if readOnlyPaths == [ ] then { } else { BindReadOnlyPaths = readOnlyPaths; })
        // (if readWritePaths == [ ] then { } else { BindPaths = readWritePaths; });
    };
in
{
  inherit
    group
    socketDir
    socketPath
    serverUnit
    isServerName
    isVariableName
    isCredentialName
    clientKeyCredential
    bearerTokenCredential
    isStdio
    document
    wrapDocument
    stdioServers
    credentials
    peers
    unit
    serverSocket
    serverService
    ;
}
