# What every daemon's module does the same way with its config document:
# typed options feeding a freeform `settings` at `mkDefault` priority, and
# the rendered document checked by the daemon itself at build time.
{ lib, pkgs }:
let
  format = pkgs.formats.json { };
in
{
  inherit format;

  # Every leaf at mkDefault priority: setting one field in `settings`
  # replaces that field only. Lists are leaves.
  defaultsDeep =
    let
      go = value: if builtins.isAttrs value then lib.mapAttrs (_: go) value else lib.mkDefault value;
    in
    go;

  # The `settings` and `configFile` options every daemon's module has.
  #   name: "router" (its docs are docs/<name>.md); daemon: "hwc-ai-router"
  #   example: an example `settings`
  #   configFile: the checked document (`checked` below)
  documentOptions =
    {
      name,
      daemon,
      example,
      configFile,
    }:
    {
      settings = lib.mkOption {
        type = lib.types.submodule { freeformType = format.type; };
        default = { };
        inherit example;
        description = ''
          The ${name}'s config document (docs/${name}.md), rendered to JSON. The
          options above set its fields at `mkDefault` priority: set a field
          here to override it.
        '';
      };

      configFile = lib.mkOption {
        type = lib.types.path;
        readOnly = true;
        default = configFile;
        defaultText = lib.literalMD "the rendered `settings`, checked by `${daemon} --check-config`";
        description = "The ${name}'s config file, as the unit uses it.";
      };
    };

  # An optional field of the document: unset (null) leaves it out, so the
  # daemon's own default applies.
  field =
    type: description:
    lib.mkOption {
      type = lib.types.nullOr type;
      default = null;
      inherit description;
    };

  # The same, for a field whose default the option docs name: `daemonDefault`
  # is what the daemon uses when it is unset, as Markdown (e.g. "`1d`"). The
  # value itself lives in the daemon only.
  defaultedField =
    type: daemonDefault: description:
    lib.mkOption {
      type = lib.types.nullOr type;
      default = null;
      defaultText = lib.literalMD "`null`: the daemon's own default, ${daemonDefault}";
      inherit description;
    };

  # The document as a store file, after `<daemon> --check-config` accepted
  # it: a typo fails `nixos-rebuild`, not the running service. Secrets do
  # not exist at build time; --check-config checks their shape only. When
  # the build machine cannot run the host's binaries (cross builds), the
  # check is skipped and the daemon's start-up check remains.
  #   command: the binary and its subcommand, when not `daemon` itself
  #     (`hwc-ai-mcp wrap` checks a wrapper's document)
  checked =
    {
      daemon,
      package,
      settings,
      command ? daemon,
    }:
    let
      raw = format.generate "${daemon}.json" settings;
    in
    pkgs.runCommand "${daemon}.json" { preferLocalBuild = true; } ''
      ${lib.optionalString (pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform) ''
        ${package}/bin/${command} --check-config --config ${raw}
      ''}
      cp ${raw} $out
    '';
}
