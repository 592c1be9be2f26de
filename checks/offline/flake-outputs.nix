# The flake's outputs, evaluated with nixpkgs' `lib` and stand-in packages:
# the package is what the module runs, injected by `nixosModules.default`.
#
#   nix-instantiate --eval --strict --json checks/offline/flake-outputs.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib'
{ lib }:
let
  stubs = import ./stubs.nix { inherit lib; };
  systems' = lib.sort lib.lessThan systems;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  fakeDrv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/11111111111111111111111111111111-${name}";
  } // extra;

  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems (
      system:
      stubs.pkgs
      // {
        stdenv = stubs.pkgs.stdenv // {
          hostPlatform.system = system;
        };
        rustPlatform.buildRustPackage =
          args:
          fakeDrv "${args.pname}-${args.version}-${system}" {
            inherit (args) pname version cargoLock;
          };
        nixfmt = fakeDrv "nixfmt" { };
        # nixosOptionsDoc's list, before it renders it
        path = toString ./nixpkgs-stand-in;
        nixosOptionsDoc =
          {
            options,
            transformOptions ? lib.id,
          }:
          {
            optionsCommonMark = map transformOptions (
              lib.filter (opt: opt.visible && !opt.internal) (lib.optionAttrSetToDocList options)
            );
          };
      }
    );
  };

  flake = import ../../flake.nix;
  self = flake.outputs {
    inherit self nixpkgs;
  };

  evaluated = lib.evalModules {
    modules = [
      self.nixosModules.default
      stubs.module
      { hwc.ai.enable = true; }
      {
        _module.args.pkgs = nixpkgs.legacyPackages.aarch64-linux;
      }
    ];
  };
  inherit (evaluated) config;
  package = self.packages.aarch64-linux.default;
  optionsDoc = self.packages.aarch64-linux.options-doc;
  # the options docs/options.md lists (checks/offline/options-doc.nix)
  documented = lib.filter (opt: opt.visible && !opt.internal) (
    lib.optionAttrSetToDocList { inherit (evaluated.options) hwc; }
  );

  expect = list: map (e: e // { case = "flake.nix"; ok = e.got == e.want; }) list;
in
expect [
  {
    what = "inputs: nixpkgs on nixos-unstable, nothing else";
    got = flake.inputs;
    want = {
      nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    };
  }
  {
    what = "packages for both systems, pname hwc-ai, built from Cargo.lock";
    got = lib.mapAttrs (_: p: {
      inherit (p.default) pname;
      lockFile = toString p.default.cargoLock.lockFile;
    }) self.packages;
    want = lib.genAttrs systems (_: {
      pname = "hwc-ai";
      lockFile = toString ../../Cargo.lock;
    });
  }
  {
    what = "the version is the workspace's";
    got = package.version;
    want = (lib.importTOML ../../Cargo.toml).workspace.package.version;
  }
  {
    what = "nixosModules: default and hwc-ai";
    got = lib.attrNames self.nixosModules;
    want = [
      "default"
      "hwc-ai"
    ];
  }
  {
    what = "the module runs the flake's package for the host's system";
    got = config.hwc.ai.package.outPath;
    want = package.outPath;
  }
  {
    what = "ExecStart uses it";
    got = lib.hasPrefix "${package.outPath}/bin/hwc-ai-prober --config " config.systemd.services.hwc-ai-prober.serviceConfig.ExecStart;
    want = true;
  }
  {
    what = "packages.options-doc: nixosOptionsDoc of the options docs/options.md lists";
    got = map (opt: opt.name) optionsDoc;
    want = map (opt: opt.name) documented;
  }
  {
    what = "packages.options-doc: each declaration a file of the repository, linked";
    got = lib.unique (
      lib.concatMap (
        opt:
        map (
          d:
          lib.hasPrefix "modules/" d.name
          && !(lib.hasPrefix "/" d.name)
          && d.url == "https://github.com/hwc-ai/hwc-ai/blob/main/${d.name}"
        ) opt.declarations
      ) optionsDoc
    );
    want = [ true ];
  }
  {
    what = "formatter, devShell and checks for both systems";
    got = map (o: lib.attrNames self.${o}) [
      "formatter"
      "devShells"
      "checks"
    ];
    want = [
      systems'
      systems'
      systems'
    ];
  }
]
