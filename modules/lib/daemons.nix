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
    }:
    rec {
      inherit
        name
        port
        description
        option
        checkConfig
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

  # In the order they start and are listed: one block of consecutive ports,
  # unused by a stock NixOS, to open or forward as one range.
  all = [
    (row {
      name = "prober";
      port = 9430;
      description = "health prober";
    })
    (row {
      name = "puller";
      port = 9431;
      description = "model puller";
    })
    (row {
      name = "router";
      port = 9432;
      description = "model router";
    })
    (row {
      name = "mcp";
      port = 9433;
      description = "MCP gateway";
    })
    (row {
      name = "assistant";
      port = 9434;
      description = "read-only operations assistant";
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
