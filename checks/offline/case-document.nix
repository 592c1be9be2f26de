# One daemon's config document as the module renders it for a case of
# cases/, for `--check-config` (run.sh): what the module's build-time
# check would be given.
#
#   nix-instantiate --eval --strict --json checks/offline/case-document.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' --arg case ./cases/workflows.nix --argstr daemon assistant
{
  lib,
  case,
  daemon,
}:
let
  stubs = import ./stubs.nix { inherit lib; };
  evaluated = lib.evalModules {
    modules = [
      ../../modules
      stubs.module
      (import case).config
      { _module.args.pkgs = stubs.pkgs; }
    ];
  };
in
evaluated.config.hwc.ai.${daemon}.settings
