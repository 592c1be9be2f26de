# `hwc.ai.<daemon>.limits`: the resource limits of every hwc-ai daemon's
# unit, one set of options per row of `lib/daemons.nix` (a daemon cannot be
# forgotten), with that row's defaults. Each daemon's file passes its
# `limits` to its unit (`lib/units.nix`, `resourceLimits`), which renders
# them as MemoryMax=, MemoryHigh=, TasksMax= and LimitNOFILE= at default
# priority: `systemd.services.<unit>.serviceConfig.MemoryMax` set by the
# operator still wins. What each default was sized from: docs/security.md.
{ lib, ... }:
let
  inherit (lib) mkOption types;

  daemons = import ./lib/daemons.nix;

  # what systemd accepts for a memory limit: bytes with an optional K, M, G,
  # T suffix (powers of 1024), a percentage of the host's memory, or none
  memoryType = types.strMatching "([0-9]+[KMGTPE]?|[0-9]+(\\.[0-9]+)?%|infinity)";

  limitsOption =
    daemon:
    mkOption {
      default = { };
      description = ''
        Resource limits of the `${daemon.unit}` unit. The kernel kills the
        daemon when it goes over `memoryMax` (the journal says "killed by the
        OOM killer", the unit fails with result `oom-kill`) and systemd starts
        it again; `tasksMax` and `openFiles` make a thread or a socket too
        many fail with an error instead. `null` leaves a limit to systemd's
        default.
      '';
      type = types.submodule {
        options = {
          memoryMax = mkOption {
            type = types.nullOr memoryType;
            default = daemon.limits.memoryMax;
            example = "1G";
            description = "`MemoryMax=`: the most memory the unit may use; above it the kernel kills the daemon.";
          };
          memoryHigh = mkOption {
            type = types.nullOr memoryType;
            default = daemon.limits.memoryHigh;
            example = "384M";
            description = ''
              `MemoryHigh=`: above it the kernel reclaims the unit's memory
              and slows the daemon down, before `memoryMax` kills it. Unset by
              default: a daemon that is slow for no visible reason is harder
              to diagnose than one that was restarted.
            '';
          };
          tasksMax = mkOption {
            type = types.nullOr types.ints.positive;
            default = daemon.limits.tasksMax;
            example = 512;
            description = "`TasksMax=`: the most threads and processes the unit may have.";
          };
          openFiles = mkOption {
            type = types.nullOr types.ints.positive;
            default = daemon.limits.openFiles;
            example = 16384;
            description = "`LimitNOFILE=`: the most open files and sockets (soft and hard limit).";
          };
        };
      };
    };
in
{
  options = lib.foldl' lib.recursiveUpdate { } (
    map (daemon: lib.setAttrByPath (daemon.option ++ [ "limits" ]) (limitsOption daemon)) daemons.all
  );
}
