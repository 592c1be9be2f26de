# Evaluates the hwc-ai module for one case file (or all of them) with
# `lib.evalModules`, against the stand-ins of `stubs.nix`, and returns one
# result per expectation: { case, what, ok, got, want }.
#
#   nix-instantiate --eval --strict --json checks/offline/eval.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' [--arg case ./cases/defaults.nix]
{
  lib,
  case ? null,
}:
let
  stubs = import ./stubs.nix { inherit lib; };

  evalCase =
    file:
    let
      spec = import file;
      evaluated = lib.evalModules {
        modules = [
          ../../modules
          stubs.module
          spec.config
          { _module.args.pkgs = stubs.pkgs; }
        ];
      };
      inherit (evaluated) config;
      failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
      expectations =
        spec.expect { inherit config lib; }
        ++ lib.optional (!(spec ? failedAssertions)) {
          what = "no failed assertions";
          got = failed;
          want = [ ];
        }
        ++ map (want: {
          what = "a failed assertion mentions `${want}`";
          got = lib.any (message: lib.hasInfix want message) failed;
          want = true;
        }) (spec.failedAssertions or [ ]);
    in
    map (e: {
      case = baseNameOf (toString file);
      inherit (e) what got want;
      ok = e.got == e.want;
    }) expectations;

  files = map (name: ./cases + "/${name}") (
    lib.filter (lib.hasSuffix ".nix") (lib.attrNames (builtins.readDir ./cases))
  );
in
if case == null then lib.concatMap evalCase files else evalCase case
