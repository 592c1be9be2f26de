# `hwc.ai.<daemon>.cpuWeight` and `.nice`: how every hwc-ai daemon's unit
# competes for the CPU with its neighbours, above all an Ollama doing CPU
# inference on every core. One pair of options per row of `lib/daemons.nix`.
#
# The router, the MCP gateway and the prober are on someone's request path
# (or the alert path) and use little CPU: the router about 150 µs per
# request. Next to a CPU-bound neighbour of equal weight, each wake-up
# waits behind it, and the router's added p99 grows (docs/performance.md,
# A CPU-bound neighbour). `CPUWeight=1000`, ten times an ordinary unit's
# 100 (ollama.service's), puts their wake-ups first; since they use so
# little, the neighbour loses nothing measurable. The puller (bound by the
# network) and the assistant (bound by the model it waits for) keep
# systemd's default.
#
# CPUWeight= is what counts between units: with it, systemd turns on the
# cgroup CPU controller, and each unit is weighed as a whole. Nice= then
# only orders the threads inside the unit; it matters where the
# controller is off (cgroup v1). Neither is set when null.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;

  daemons = import ./lib/daemons.nix;

  # light and latency-sensitive: on the request path or the alert path
  weights = {
    router = 1000;
    mcp = 1000;
    prober = 1000;
  };

  cfgOf = daemon: lib.getAttrFromPath daemon.option config;

  options = daemon: {
    cpuWeight = mkOption {
      type = types.nullOr (types.ints.between 1 10000);
      default = weights.${daemon.name} or null;
      description = ''
        `CPUWeight=` of the `${daemon.unit}` unit (systemd's default is
        100, Ollama's too): under contention, its share of the CPU against
        other units. `null` leaves systemd's default.
      '';
    };
    nice = mkOption {
      type = types.nullOr (types.ints.between (-20) 19);
      default = null;
      example = -5;
      description = ''
        `Nice=` of the `${daemon.unit}` unit. With `cpuWeight` set, the
        kernel weighs units by their weight and niceness only orders the
        daemon's own threads; it counts between units only where the cgroup
        CPU controller is off.
      '';
    };
  };
in
{
  options = lib.foldl' lib.recursiveUpdate { } (
    map (daemon: lib.setAttrByPath daemon.option (options daemon)) daemons.all
  );

  config.systemd.services = lib.listToAttrs (
    map (
      daemon:
      let
        cfg = cfgOf daemon;
      in
      lib.nameValuePair daemon.unit (
        lib.mkIf cfg.enable {
          # defaults: the operator's own serviceConfig on the unit wins
          serviceConfig =
            lib.optionalAttrs (cfg.cpuWeight != null) { CPUWeight = lib.mkDefault cfg.cpuWeight; }
            // lib.optionalAttrs (cfg.nice != null) { Nice = lib.mkDefault cfg.nice; };
        }
      )
    ) daemons.all
  );
}
