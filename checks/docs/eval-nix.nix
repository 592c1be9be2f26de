# Evaluates one NixOS example of the docs with the hwc-ai module, against
# the offline stand-ins of checks/offline/stubs.nix, and returns its failed
# assertions and the units it renders (forced, so an error anywhere in them
# fails the evaluation). Used by checks/docs/run:
#
#   nix-instantiate --eval --strict --json checks/docs/eval-nix.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' --arg example ./example.nix
{
  lib,
  example,
}:
let
  stubs = import ../offline/stubs.nix { inherit lib; };
  # Packages the examples name that the stand-ins do not have.
  package = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  pkgs = lib.genAttrs [ "mcp-server-time" "nodejs" "github-mcp-server" ] package // stubs.pkgs;
  # sops-nix's secrets, as the examples refer to them.
  sops =
    { config, ... }:
    {
      options.sops.secrets = lib.mkOption {
        type = lib.types.attrsOf (
          lib.types.submodule (
            { name, ... }:
            {
              options.path = lib.mkOption {
                type = lib.types.str;
                default = "/run/secrets/${name}";
              };
            }
          )
        );
        default = { };
      };
    };
  evaluated = lib.evalModules {
    modules = [
      ../../modules
      stubs.module
      sops
      example
      { _module.args.pkgs = pkgs; }
    ];
  };
  inherit (evaluated) config;
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  units = lib.mapAttrs (_: unit: unit.serviceConfig) config.systemd.services;
}
