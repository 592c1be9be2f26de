# Renders a `systemd.services.<name>` attrset (the shape `modules/lib/units.nix`
# returns) to the text of a `.service` file, the way NixOS writes it: a list
# becomes one line per element, booleans become true/false, and the typed
# options NixOS renders into [Unit] itself (`after`, `documentation`,
# `startLimitIntervalSec`, ...) are rendered the same way: a space-separated
# list on one line, a number as a string. A `mkDefault` value is its content. A
# `systemd.sockets.<name>` attrset (one with `listenStreams`) becomes a
# `.socket` file, a `systemd.timers.<name>` one (`timerConfig`) a `.timer`.
#
# Plain Nix, no nixpkgs: the offline checks use it without `lib`.
let
  concatMap = f: list: builtins.concatLists (map f list);

  showValue =
    value:
    if builtins.isBool value then
      (if value then "true" else "false")
    else
      toString value;

  lines =
    attrs:
    concatMap (
      key:
      let
        value = contentOf attrs.${key};
      in
      if builtins.isList value then map (v: "${key}=${showValue v}") value else [ "${key}=${showValue value}" ]
    ) (builtins.attrNames attrs);

  section =
    name: attrs:
    let
      body = lines attrs;
    in
    if body == [ ] then "" else "[${name}]\n" + builtins.concatStringsSep "\n" body + "\n\n";

  # NixOS: `optionalAttrs (config.after != [ ]) { After = toString config.after; }`
  spaced = list: if list == [ ] then [ ] else builtins.concatStringsSep " " list;

  # a `mkDefault` definition (modules/lib/units.nix) is its content
  contentOf = value: if builtins.isAttrs value && value._type or "" == "override" then value.content else value;

  nonEmpty = attrs: builtins.removeAttrs attrs (builtins.filter (k: attrs.${k} == [ ]) (builtins.attrNames attrs));
in
unit:
let
  environment = unit.environment or { };
in
section "Unit" (
  nonEmpty {
    Description = unit.description;
    After = spaced (unit.after or [ ]);
    Wants = spaced (unit.wants or [ ]);
    Requires = spaced (unit.requires or [ ]);
    BindsTo = spaced (unit.bindsTo or [ ]);
    Documentation = spaced (unit.documentation or [ ]);
  }
  // (
    if unit ? startLimitIntervalSec then
      { StartLimitIntervalSec = toString (contentOf unit.startLimitIntervalSec); }
    else
      { }
  )
  // (unit.unitConfig or { })
)
+ (
  if unit ? listenStreams then
    section "Socket" (
      nonEmpty (
        {
          ListenStream = unit.listenStreams;
        }
        // (unit.socketConfig or { })
      )
    )
  else if unit ? timerConfig then
    section "Timer" unit.timerConfig
  else
    section "Service" (
      nonEmpty (
        (unit.serviceConfig or { })
        // {
          Environment = map (name: "\"${name}=${environment.${name}}\"") (builtins.attrNames environment);
        }
      )
    )
)
+ section "Install" (nonEmpty {
  WantedBy = unit.wantedBy or [ ];
})
