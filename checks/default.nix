# Every flake check: `nix flake check` is the whole gate.
#
# - package: the build, with `cargo test`
# - clippy (-D warnings) and rustfmt
# - module-eval: the cases of checks/offline/cases/ through lib.evalModules,
#   and the flake's outputs (checks/offline/flake-outputs.nix)
# - options-doc: docs/options.md is the module's option reference
#   (checks/offline/options-doc.nix), as checks/offline/options-doc.sh checks
# - unit-score: every daemon's unit (modules/lib/daemons.nix), and a wrapped
#   MCP server's, as NixOS renders them, scored by `systemd-analyze security`
#   (exposure at most 1.5)
# - one NixOS VM test per file in checks/nixos/, named after the file:
#   adding a scenario is adding a file.
{ pkgs, self }:
let
  inherit (pkgs) lib;
  inherit (pkgs.stdenv.hostPlatform) system;

  package = self.packages.${system}.default;

  daemons = import ../modules/lib/daemons.nix;

  # One VM test: the file is a test module (nodes, testScript); every node
  # gets hwc-ai's module, and every test a global deadline.
  runTest =
    file:
    pkgs.testers.runNixOSTest {
      imports = [ file ];
      name = "hwc-ai-${lib.removeSuffix ".nix" (baseNameOf file)}";
      globalTimeout = 10 * 60;
      defaults = {
        imports = [ self.nixosModules.default ];
        # the tests need no documentation, and build faster without it
        documentation.enable = false;
      };
    };

  vmTests = lib.mapAttrs' (file: _: {
    name = lib.removeSuffix ".nix" file;
    value = runTest (./nixos + "/${file}");
  }) (lib.filterAttrs (file: type: type == "regular" && lib.hasSuffix ".nix" file) (builtins.readDir ./nixos));

  moduleResults =
    import ./offline/eval.nix { inherit lib; }
    ++ import ./offline/stubs-strict.nix { inherit lib; }
    ++ import ./offline/flake-outputs.nix { inherit lib; };
  moduleFailures = lib.filter (result: !result.ok) moduleResults;

  # The units exactly as a NixOS system with `hwc.ai.enable = true` gets them,
  # with every daemon of the table enabled and what some need to run: a
  # model for the puller and the assistant, one stdio MCP server (the Debian
  # VM's echo server) for the gateway and a wrapper's unit.
  nixos = pkgs.nixos {
    imports = [
      self.nixosModules.default
    ]
    ++ map (daemon: lib.setAttrByPath (daemon.option ++ [ "enable" ]) true) daemons.all;
    boot.isContainer = true;
    system.stateVersion = lib.trivial.release;
    hwc.ai.enable = true;
    hwc.ai.models = [ "llama3.2:3b" ];
    hwc.ai.assistant.router.model = "llama3.2:3b";
    hwc.ai.mcp.servers.echo = {
      command = "${pkgs.python3}/bin/python3";
      args = [ "${./debian-vm/guest/mcp-echo-server.py}" ];
    };
  };
  unitFile = name: "${nixos.config.systemd.units."${name}.service".unit}/${name}.service";
in
vmTests
// {
  inherit package;

  clippy = package.overrideAttrs (old: {
    pname = "hwc-ai-clippy";
    nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
    buildPhase = ''
      runHook preBuild
      cargo clippy --workspace --all-targets --offline -- -D warnings
      runHook postBuild
    '';
    doCheck = false;
    installPhase = "touch $out";
    dontFixup = true;
  });

  rustfmt =
    pkgs.runCommand "hwc-ai-rustfmt"
      {
        nativeBuildInputs = [
          pkgs.cargo
          pkgs.rustfmt
        ];
      }
      ''
        export HOME=$TMPDIR
        cd ${package.src}
        cargo fmt --all --check
        touch $out
      '';

  module-eval = pkgs.runCommand "hwc-ai-module-eval" { } (
    if moduleFailures == [ ] then
      ''
        echo "${toString (builtins.length moduleResults)} passed, 0 failed" | tee $out
      ''
    else
      ''
        echo ${lib.escapeShellArg (builtins.toJSON moduleFailures)} >&2
        echo "${toString (builtins.length moduleResults - builtins.length moduleFailures)} passed, ${toString (builtins.length moduleFailures)} failed" >&2
        exit 1
      ''
  );

  options-doc = pkgs.runCommand "hwc-ai-options-doc" { } ''
    diff -u ${../docs/options.md} ${
      pkgs.writeText "options.md" (import ./offline/options-doc.nix { inherit lib; })
    } || {
      echo "docs/options.md is out of date: run checks/offline/options-doc.sh --write" >&2
      exit 1
    }
    touch $out
  '';

  unit-score = pkgs.runCommand "hwc-ai-unit-score" { nativeBuildInputs = [ pkgs.systemd ]; } ''
    for unit in ${
      lib.concatMapStringsSep " " unitFile (daemons.units ++ [ "hwc-ai-mcp-server-echo" ])
    }; do
      systemd-analyze security --offline=true --threshold=15 "$unit" | tee -a $out
    done
  '';
}
