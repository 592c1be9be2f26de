# Stand-in for nixpkgs' nixos/modules/misc/assertions.nix, which the
# flake's options-doc package imports: the two options, as NixOS declares
# them (internal, so not in the option reference).
{ lib, ... }:
{
  options = {
    assertions = lib.mkOption {
      type = lib.types.listOf lib.types.unspecified;
      internal = true;
      default = [ ];
    };
    warnings = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      internal = true;
      default = [ ];
    };
  };
}
