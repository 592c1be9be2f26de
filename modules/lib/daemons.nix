# The daemons of hwc-ai, one row each: what `modules/default.nix` imports,
# what the flake's unit-score check and the offline checks render and score,
# and where every module finds its default port. The Rust side has the same
# table (crates/runtime/src/daemons.rs); checks/offline/pure.nix fails when
# their names or ports differ.
#
# Adding a daemon: a crate, a module file (`modules/<name>.nix`, with its
# library `modules/lib/<name>.nix` exporting `unit`) and a row here.
#
# Plain Nix: no `pkgs`, no `lib`.
let
  row =
    {
      # short name: the crate, the docs page (docs/<name>.md), the options
      name,
      # loopback port it listens on by default (`/metrics`, `/health`, its API)
      port,
      # the unit's Description=, after "hwc-ai "
      description,
      # `hwc.ai.<name>`, unless the options say it otherwise
      option ? [
        "hwc"
        "ai"
        name
      ],
      # whether the module runs `<unit> --check-config` on the rendered
      # document at build time (modules/settings.nix, `checked`)
      checkConfig ? true,
      # the unit's resource limits by default (`hwc.ai.<name>.limits`): see
      # `limits` below and docs/security.md for what each was sized from
      limits,
    }:
    rec {
      inherit
        name
        port
        description
        option
        checkConfig
        limits
        ;
      # binary, systemd unit, Prometheus job, prober target
      unit = "hwc-ai-${name}";
      listen = "127.0.0.1:${toString port}";
      url = "http://${listen}";
      # the NixOS module's file, and its pure library (`unit`, the document)
      module = ../. + "/${name}.nix";
      library = ./. + "/${name}.nix";
      docs = "docs/${name}.md";
    };

  # Resource limits, each eight to thirty times what the daemon was
  # measured using at its busiest (docs/performance.md, docs/security.md),
  # so that they never bite in normal use and a leak or a flood ends in an
  # OOM kill and a restart instead of a host out of memory. Threads: two async
  # workers, the main thread, and tokio's pool for blocking work (DNS, file
  # I/O), which waits for a free thread rather than fail when TasksMax= is
  # reached. `memoryHigh` (throttling before the kill) is not set by
  # default: a slowed daemon is harder to diagnose than a restarted one.
  limits =
    memoryMax: tasksMax: openFiles: {
      inherit memoryMax tasksMax openFiles;
      memoryHigh = null;
    };

  # In the order they start and are listed: one block of consecutive ports,
  # unused by a stock NixOS, to open or forward as one range.
  all = [
    (row {
      name = "prober";
      port = 9430;
      description = "health prober";
      # 7 MB idle, 15 MB probing 1,000 targets at 100 probes/s; one socket
      # per probe in flight
      limits = limits "128M" 64 1024;
    })
    (row {
      name = "puller";
      port = 9431;
      description = "model puller";
      # 7-8 MB idle with 200 models declared; one runtime thread
      limits = limits "128M" 64 1024;
    })
    (row {
      name = "router";
      port = 9432;
      description = "model router";
      # 8 MB idle, 47 MB with 512 streams open; a request body may be
      # 8 MiB (maxBodyBytes) and is held while it waits for a slot, so
      # many large prompts at once need more. Two sockets per request in
      # flight (the client's, the backend's)
      limits = limits "512M" 256 8192;
    })
    (row {
      name = "mcp";
      port = 9433;
      description = "MCP gateway";
      # 9 MB idle; its stdio servers run in units of their own (the
      # module's wrappers), each with its own limits
      limits = limits "256M" 128 4096;
    })
    (row {
      name = "assistant";
      port = 9434;
      description = "read-only operations assistant";
      # 17 MB idle with 50 workflows declared, 21 MB after 800 runs
      limits = limits "256M" 128 1024;
    })
  ];
in
builtins.listToAttrs (
  map (daemon: {
    inherit (daemon) name;
    value = daemon;
  }) all
)
// {
  inherit all;
  # the unit names, in order
  units = map (daemon: daemon.unit) all;
}
