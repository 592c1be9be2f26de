# Typed stand-in of the NixOS test driver's Python package (nixpkgs
# nixos/lib/test-driver/src/test_driver), for type-checking test scripts
# without nixpkgs: signatures only, no code. See ../../run.
