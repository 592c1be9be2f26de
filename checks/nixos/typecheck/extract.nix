# The test script of one VM test (a file of checks/nixos/) and the Python
# names of its machines, as the NixOS test driver derives them
# (nixpkgs nixos/lib/testing/driver.nix), without nixpkgs: `pkgs` and the
# nodes' configurations are stand-ins holding what the test files read.
# A test that reads something else fails here with "attribute ... missing":
# add it below.
#
#   nix-instantiate --eval --strict --json extract.nix \
#     --arg lib 'import <nixpkgs lib>' --arg file ./checks/nixos/mcp.nix
{ lib, file }:
let
  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  pkgs = {
    bash = fakeDrv "bash";
    curl = fakeDrv "curl";
    jq = fakeDrv "jq";
    python3 = fakeDrv "python3";
    util-linux = fakeDrv "util-linux";
    writeText = name: _: fakeDrv name;
    writeTextDir = path: _: fakeDrv (baseNameOf path);
    writeShellScript = name: _: fakeDrv name;
  };

  # what test scripts read of `nodes.<name>`
  node = name: {
    networking.primaryIPAddress = "192.168.1.1";
    networking.hostName = name;
    hwc.ai.prober.configFile = "/nix/store/00000000000000000000000000000000-hwc-ai-prober.json";
  };

  imported = import file;
  test =
    if lib.isFunction imported then
      imported {
        inherit lib pkgs;
        config = { };
      }
    else
      imported;

  nodeNames = lib.attrNames test.nodes;
  nodes = lib.genAttrs nodeNames node;

  # driver.nix: one node not named "machine" is also `machine`
  theOnlyMachine = lib.optional (lib.length nodeNames == 1 && !lib.elem "machine" nodeNames) "machine";

  # driver.nix's pythonizeName
  pythonizeName =
    name:
    let
      head = lib.substring 0 1 name;
      tail = lib.substring 1 (-1) name;
    in
    (if builtins.match "[A-z_]" head == null then "_" else head)
    + lib.stringAsChars (c: if builtins.match "[A-z0-9_]" c == null then "_" else c) tail;
in
{
  machines = map pythonizeName (nodeNames ++ theOnlyMachine);
  testScript = if lib.isFunction test.testScript then test.testScript { inherit nodes; } else test.testScript;
}
