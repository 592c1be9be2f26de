# The strict sandbox every hwc-ai daemon starts from.
#
# Plain Nix: no `pkgs`, no `lib`, so the NixOS module and the offline checks
# (`checks/offline`) read the very same attrset. A daemon that needs more
# relaxes one key in `units.nix` and says why there, next to the change.
#
# Every relaxation of the strictest setting carries a comment saying why.
{
  DynamicUser = true;
  # no supplementary groups, no capabilities, ever
  CapabilityBoundingSet = [ "" ];
  AmbientCapabilities = [ "" ];
  NoNewPrivileges = true;
  RestrictSUIDSGID = true;
  RemoveIPC = true;
  UMask = "0077";

  # file system: read-only everywhere, private /tmp and /dev
  ProtectSystem = "strict";
  ProtectHome = true;
  PrivateTmp = true;
  PrivateDevices = true;
  DevicePolicy = "closed";
  PrivateMounts = true;
  ProtectProc = "invisible";
  ProcSubset = "pid";

  # kernel and host state
  ProtectClock = true;
  ProtectControlGroups = true;
  ProtectHostname = true;
  ProtectKernelLogs = true;
  ProtectKernelModules = true;
  ProtectKernelTunables = true;
  LockPersonality = true;
  MemoryDenyWriteExecute = true;
  RestrictNamespaces = true;
  RestrictRealtime = true;
  PrivateUsers = true;
  KeyringMode = "private";

  # The daemons speak HTTP and TCP, so they keep the internet families; an
  # empty list would forbid socket(2) altogether. AF_UNIX is for sd_notify and
  # journald. Where they may connect is narrowed by IPAddressAllow (units.nix).
  RestrictAddressFamilies = [
    "AF_INET"
    "AF_INET6"
    "AF_UNIX"
  ];
  # the network itself stays shared: a daemon that probes or serves other
  # hosts' sockets cannot live in an empty network namespace
  PrivateNetwork = false;

  SystemCallArchitectures = "native";
  SystemCallFilter = [
    "@system-service"
    "~@privileged"
    "~@resources"
  ];
  SystemCallErrorNumber = "EPERM";
}
