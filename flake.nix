{
  description = "hwc-ai: a declarative local-AI stack for NixOS homelabs";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      cargoToml = lib.importTOML ./Cargo.toml;

      # Every hwc-ai binary (hwc-ai, hwc-ai-prober, ...), one package.
      hwc-ai =
        pkgs:
        pkgs.rustPlatform.buildRustPackage {
          pname = "hwc-ai";
          inherit (cargoToml.workspace.package) version;
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions [
              ./Cargo.toml
              ./Cargo.lock
              ./crates
              # A small stdio MCP server the wrapper's tests run.
              ./checks/debian-vm/guest/mcp-echo-server.py
            ];
          };
          cargoLock.lockFile = ./Cargo.lock;
          # hwc-ai-assistant loads libsystemd (sd-journal) at run time.
          env.HWC_AI_LIBSYSTEMD = "${lib.getLib pkgs.systemd}/lib/libsystemd.so.0";
          # The tests run real processes: a private D-Bus for the
          # assistant's systemd tool, python3 for an MCP server,
          # systemd-socket-activate for the daemons' socket activation,
          # git for the assistant's draft pull requests and docs repository.
          # checks/nix-sandbox/run runs the suite with only these on PATH.
          nativeCheckInputs = [
            pkgs.dbus
            pkgs.git
            pkgs.python3
            pkgs.systemd
          ];
          meta = {
            description = "Small daemons and a CLI for a declarative local-AI stack";
            homepage = "https://github.com/hwc-ai/hwc-ai";
            license = lib.licenses.mit;
            mainProgram = "hwc-ai";
            platforms = lib.platforms.linux;
          };
        };

      # The option reference as nixpkgs renders it (CommonMark), from the
      # module's own declarations, evaluated as lanzaboote does: the module
      # alone, with the checks the docs do not need turned off.
      # docs/options.md is the same list, rendered by
      # checks/offline/options-doc.nix without nixpkgs.
      optionsDoc =
        pkgs:
        let
          eval = lib.evalModules {
            modules = [
              (
                { lib, ... }:
                {
                  config._module.args.pkgs = pkgs;
                  imports = [
                    lib.types.noCheckForDocsModule
                    # the aliases of renamed options warn through it
                    "${pkgs.path}/nixos/modules/misc/assertions.nix"
                    ./modules
                  ];
                }
              )
            ];
          };
          doc = pkgs.nixosOptionsDoc {
            options = { inherit (eval.options) hwc; };
            transformOptions =
              opt:
              opt
              // {
                declarations = map (
                  declaration:
                  let
                    path = lib.removePrefix "${toString ./.}/" (toString declaration);
                  in
                  {
                    name = path;
                    url = "https://github.com/hwc-ai/hwc-ai/blob/main/${path}";
                  }
                ) opt.declarations;
              };
          };
        in
        doc.optionsCommonMark;
    in
    {
      # What users consume.
      packages = forAllSystems (pkgs: {
        default = hwc-ai pkgs;
        options-doc = optionsDoc pkgs;
      });

      overlays.default = final: _prev: { hwc-ai = hwc-ai final; };

      # The module never builds the package itself: it is injected here.
      nixosModules.hwc-ai =
        { lib, pkgs, ... }:
        {
          imports = [ ./modules ];
          hwc.ai.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      nixosModules.default = self.nixosModules.hwc-ai;

      # What developers run: `nix flake check` is the whole gate.
      checks = forAllSystems (pkgs: import ./checks { inherit pkgs self; });

      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = [
            pkgs.clippy
            pkgs.rustfmt
            pkgs.rust-analyzer
            pkgs.nixfmt
            pkgs.jq
          ];
        };
      });
    };
}
