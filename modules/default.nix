# The hwc-ai NixOS module: one file per area.
#
# The module never builds hwc-ai itself: the flake sets `hwc.ai.package`
# (`nixosModules.default`), so every file here is a mapping from options to
# NixOS configuration, and `modules/lib/` holds the parts that need no
# nixpkgs at all. Each hwc-ai daemon's file comes from its row in
# `lib/daemons.nix`. `settings.nix` is not an area but the helpers every
# daemon's file shares (typed options into `settings`, the build-time
# `--check-config`).
{
  imports = [
    ./common.nix
    ./ollama.nix
  ]
  ++ map (daemon: daemon.module) (import ./lib/daemons.nix).all
  ++ [
    ./limits.nix
    ./workflows.nix
    ./publish.nix
    ./scheduling.nix
    ./open-webui.nix
    ./migration.nix
    ./prometheus.nix
    ./grafana.nix
  ];
}
