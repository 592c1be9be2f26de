# The hwc-ai option reference (docs/options.md), rendered from the module
# itself: lib.evalModules against the stand-ins of stubs.nix (as eval.nix),
# then nixpkgs' lib.optionAttrSetToDocList, the same list nixosOptionsDoc
# renders (the flake's `packages.options-doc`). Returns the Markdown text.
#
#   nix-instantiate --eval --strict --json checks/offline/options-doc.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' | jq -j .
#
# checks/offline/options-doc.sh writes it, or fails when docs/options.md
# differs from it.
{ lib }:
let
  stubs = import ./stubs.nix { inherit lib; };
  evaluated = lib.evalModules {
    modules = [
      ../../modules
      stubs.module
      { _module.args.pkgs = stubs.pkgs; }
    ];
  };

  root = toString ../.. + "/";

  # What nixosOptionsDoc shows: visible, not internal, the hwc-ai options only.
  options = lib.filter (opt: opt.visible && !opt.internal) (
    lib.optionAttrSetToDocList { inherit (evaluated.options) hwc; }
  );

  # A literalExpression on one line is code; on several, a block. A
  # literalMD is Markdown already.
  value =
    what: v:
    if v._type or null == "literalMD" then
      " ${v.text}"
    else if lib.hasInfix "\n" v.text then
      "\n\n  <!-- not run: ${what} of an option, a Nix value -->\n  ```nix\n${lib.concatMapStringsSep "\n" (line: if line == "" then "" else "  ${line}") (lib.splitString "\n" (lib.removeSuffix "\n" v.text))}\n  ```"
    else
      " `${v.text}`";

  render =
    opt:
    lib.concatStringsSep "\n" (
      [
        "## `${opt.name}`"
        ""
        (lib.removeSuffix "\n" (if opt.description == null then "" else opt.description))
        ""
        "- type: ${opt.type}"
      ]
      ++ lib.optional (opt ? default) "- default:${value "the default" opt.default}"
      ++ lib.optional (opt ? example) "- example:${value "an example" opt.example}"
      ++ lib.optional opt.readOnly "- read-only"
      ++ [
        "- declared in: ${
          lib.concatMapStringsSep ", " (file: "`${lib.removePrefix root (toString file)}`") (
            lib.unique opt.declarations
          )
        }"
        ""
      ]
    );
in
''
  # hwc-ai options

  Every option of the hwc-ai NixOS module, generated from the module
  (`checks/offline/options-doc.sh` regenerates this file; the offline checks
  fail when it is out of date). How the options fit together is in
  [nixos.md](nixos.md); each daemon's page says what its config document
  means.

  An option whose default is `null` leaves its field out of the daemon's
  config document, so the daemon's own default applies (named in the
  option's default below).

''
+ lib.concatMapStringsSep "\n" render options
