# How every hwc-ai daemon runs under systemd, as a pure function.
#
# Plain Nix: no `pkgs`, no `lib`. The NixOS module passes the result to
# `systemd.services.<name>`; the offline checks render the same result to a
# `.service` file and score it with `systemd-analyze security`. What is
# checked without NixOS is therefore what NixOS users get.
let
  hardening = import ./hardening.nix;

  net = import ./net.nix;

  # `lib.mkDefault value`, spelled out: this file has no `lib`. The module
  # system reads it as a definition of priority 1000, below the operator's
  # own (100); `unit-file.nix` renders its content.
  mkDefault = content: {
    _type = "override";
    priority = 1000;
    inherit content;
  };
  inherit (net) hostOf isLoopback isIpLiteral;

  # Where a daemon may exchange packets (systemd IPAddressDeny/Allow).
  # `listen`: its own "host:port"; `peers`: the hosts it connects to, each a
  # string or null when only known at run time (a URL read from a secret).
  ipAddressRules =
    { listen, peers }:
    let
      listenHost = hostOf listen;
      remote = builtins.filter (host: !(isLoopback host)) peers;
    in
    if !(isLoopback listenHost) then
      # Listening beyond loopback: its clients (a Prometheus on another host)
      # come from addresses this module cannot know, so no IP filter.
      { }
    else if remote == [ ] then
      # Everything it talks to is on this host: loopback only.
      {
        IPAddressDeny = "any";
        IPAddressAllow = [ "localhost" ];
      }
    else if builtins.all isIpLiteral remote then
      # Remote peers given as IP addresses: exactly those, plus loopback.
      {
        IPAddressDeny = "any";
        IPAddressAllow = [ "localhost" ] ++ remote;
      }
    else
      # A peer named by a host name (or read from a secret) may resolve to any
      # address, and so may the DNS server that resolves it: no IP filter.
      { };

  # The `systemd.services.<name>` attrset of one daemon.
  service =
    {
      # unit name, e.g. "hwc-ai-prober"
      name,
      description,
      # full command line, e.g. "/nix/store/...-hwc-ai/bin/hwc-ai-prober --config /nix/store/...json"
      execStart,
      # the daemon's own listen address, "host:port"
      listen,
      # hosts it connects to (see ipAddressRules)
      peers ? [ ],
      # systemd credential name -> absolute path on the host (LoadCredential=)
      credentials ? { },
      # directories it may write to (state, caches); everything else is read-only
      readWritePaths ? [ ],
      # units to start after (e.g. "ollama.service"), and units to pull in
      after ? [ ],
      wants ? [ ],
      environment ? { },
      # man pages and URLs for `systemctl help`
      documentation ? [ ],
      # { memoryMax, memoryHigh, tasksMax, openFiles }, each null for none
      # (see `resourceLimits`)
      limits ? { },
    }:
    {
      inherit description environment;
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ] ++ after;
      wants = [ "network-online.target" ] ++ wants;
      # NixOS' own unit options, not `unitConfig` keys: NixOS renders them
      # into [Unit] itself, so an operator's `documentation`, `after` or
      # `startLimitIntervalSec` on the same unit adds to or overrides these
      # instead of conflicting with them.
      inherit documentation;
      # Restart= counts against the start limit (5 starts in 10 s by
      # default), which would end the backoff below with "start request
      # repeated too quickly". A daemon waiting for a credential or a disk
      # should keep trying, slowly, instead of giving up for good. A default:
      # the operator's `startLimitIntervalSec` wins.
      startLimitIntervalSec = mkDefault 0;
      serviceConfig =
        hardening
        // ipAddressRules { inherit listen peers; }
        // {
          Type = "notify";
          # only the main process may send READY=1, STATUS= and WATCHDOG=1
          NotifyAccess = "main";
          WatchdogSec = "30s";
          ExecStart = execStart;
          SyslogIdentifier = name;
          Restart = "on-failure";
          # bounded exponential backoff: 1s, growing to 1min over 10 restarts
          # (systemd >= 254; older systemd restarts every RestartSec)
          RestartSec = "1s";
          RestartSteps = 10;
          RestartMaxDelaySec = "1min";
          # SIGTERM starts a graceful drain; it is bounded, and so is this
          TimeoutStopSec = "15s";
          LoadCredential = map (credential: "${credential}:${credentials.${credential}}") (
            builtins.attrNames credentials
          );
        }
        // (if readWritePaths == [ ] then { } else { ReadWritePaths = readWritePaths; })
        // resourceLimits limits;
    };

  # The unit's resource limits (`hwc.ai.<daemon>.limits`, defaults in
  # daemons.nix): MemoryMax= (the kernel kills the unit's processes above
  # it, systemd logs the OOM kill and Restart= starts it again),
  # MemoryHigh= (reclaim and throttling above it), TasksMax= (threads and
  # processes) and LimitNOFILE= (open files and sockets, soft and hard). A
  # null limit is left out: systemd's own default applies. Each is a
  # default, so the operator's own `serviceConfig.MemoryMax` on the unit
  # wins over the option instead of conflicting with it.
  resourceLimits =
    limits:
    let
      keys = {
        memoryMax = "MemoryMax";
        memoryHigh = "MemoryHigh";
        tasksMax = "TasksMax";
        openFiles = "LimitNOFILE";
      };
      set = builtins.filter (name: (limits.${name} or null) != null) (builtins.attrNames keys);
    in
    builtins.listToAttrs (
      map (name: {
        name = keys.${name};
        value = mkDefault limits.${name};
      }) set
    );
in
{
  inherit
    hardening
    ipAddressRules
    mkDefault
    resourceLimits
    service
    ;
}
