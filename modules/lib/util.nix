# Helpers every daemon's library shares, as pure functions.
#
# Plain Nix: no `pkgs`, no `lib`, so `modules/lib/` stays evaluable (and
# checked, checks/offline/pure.nix) without nixpkgs.
let
  concatMap = f: list: builtins.concatLists (map f list);

  # Drops null fields, recursively: an unset typed option is an absent field,
  # so the daemon's own default applies.
  compact =
    value:
    if builtins.isAttrs value then
      builtins.mapAttrs (_: compact) (
        builtins.removeAttrs value (builtins.filter (k: value.${k} == null) (builtins.attrNames value))
      )
    else if builtins.isList value then
      map compact value
    else
      value;

  # Every `{"credential": NAME}` anywhere in a document.
  credentialsUsed =
    value:
    if builtins.isAttrs value then
      (if value ? credential && builtins.isString value.credential then [ value.credential ] else [ ])
      ++ concatMap (k: credentialsUsed value.${k}) (builtins.attrNames value)
    else if builtins.isList value then
      concatMap credentialsUsed value
    else
      [ ];
in
{
  inherit
    concatMap
    compact
    credentialsUsed
    ;
}
