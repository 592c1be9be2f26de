# Stand-ins for the NixOS options and the `pkgs` attributes the hwc-ai module
# uses, so the module evaluates with `lib.evalModules` and nixpkgs' `lib`
# alone. Each declaration mirrors its NixOS counterpart's type; an option the
# module sets that is not declared here is an evaluation error, as in NixOS.
{ lib }:
let
  inherit (lib) mkOption types;

  # A store path that does not exist: evaluation never builds anything.
  fakeDrv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    }
    // extra;

  # nixos/lib/systemd-unit-options.nix: lists concatenate, other values must agree
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.any (def: lib.isList def.value) defs' then
        lib.concatMap (def: lib.toList def.value) defs'
      else
        lib.mergeEqualOption loc defs';
  };

  # pkgs.formats.json's value type
  jsonValue =
    with types;
    let
      valueType =
        nullOr (oneOf [
          bool
          int
          float
          str
          path
          (attrsOf valueType)
          (listOf valueType)
        ])
        // {
          description = "JSON value";
        };
    in
    valueType;

  enable = mkOption {
    type = types.bool;
    default = false;
  };
in
{
  pkgs = {
    ollama = fakeDrv "ollama" { };
    formats.json = _: {
      type = jsonValue;
      # the document stays readable as `.json` for assertions
      generate = name: value: fakeDrv name { json = builtins.toJSON value; };
    };
    runCommand = name: env: buildCommand: fakeDrv name (env // { inherit buildCommand; });
    writeShellScript = name: text: fakeDrv name { inherit text; };
    stdenv = {
      buildPlatform.canExecute = _: true;
      hostPlatform = { };
    };
  };

  module = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
      };

      systemd.services = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              description = mkOption {
                type = types.str;
                default = "";
              };
              environment = mkOption {
                type = types.attrsOf types.str;
                default = { };
              };
              wantedBy = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              after = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              wants = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              unitConfig = mkOption {
                type = types.attrsOf unitOption;
                default = { };
              };
              serviceConfig = mkOption {
                type = types.attrsOf unitOption;
                default = { };
              };
            };
          }
        );
      };

      systemd.sockets = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              description = mkOption {
                type = types.str;
                default = "";
              };
              wantedBy = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              listenStreams = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              socketConfig = mkOption {
                type = types.attrsOf unitOption;
                default = { };
              };
            };
          }
        );
      };

      users.users = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              isSystemUser = mkOption {
                type = types.bool;
                default = false;
              };
              group = mkOption {
                type = types.str;
                default = "";
              };
              description = mkOption {
                type = types.str;
                default = "";
              };
            };
          }
        );
      };

      users.groups = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options.gid = mkOption {
              type = types.nullOr types.int;
              default = null;
            };
          }
        );
      };

      services.ollama = {
        inherit enable;
        package = mkOption {
          type = types.package;
          default = fakeDrv "ollama" { };
        };
        host = mkOption {
          type = types.str;
          default = "127.0.0.1";
        };
        port = mkOption {
          type = types.port;
          default = 11434;
        };
      };

      services.open-webui = {
        inherit enable;
        host = mkOption {
          type = types.str;
          default = "127.0.0.1";
        };
        port = mkOption {
          type = types.port;
          default = 8080;
        };
        environment = mkOption {
          type = types.attrsOf types.str;
          default = {
            SCARF_NO_ANALYTICS = "True";
            DO_NOT_TRACK = "True";
            ANONYMIZED_TELEMETRY = "False";
          };
        };
      };

      services.prometheus = {
        inherit enable;
        scrapeConfigs = mkOption {
          type = types.listOf (types.attrsOf types.anything);
          default = [ ];
        };
      };
    };

    # below the flake's mkDefault, which the flake-outputs check exercises
    config.hwc.ai.package = lib.mkOptionDefault (fakeDrv "hwc-ai" { });
  };
}
