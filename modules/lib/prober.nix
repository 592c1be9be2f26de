# hwc-ai-prober's config document (docs/prober.md), as pure functions.
#
# Plain Nix: no `pkgs`, no `lib`. `modules/health.nix` feeds the typed
# `hwc.ai.health.*` options through these into `hwc.ai.health.settings`; the
# offline checks call them directly and hand the result to
# `hwc-ai-prober --check-config`.
let
  net = import ./net.nix;
  units = import ./units.nix;
  inherit (net) httpUrl;

  concatMap = f: list: builtins.concatLists (map f list);

  # Drops null fields, recursively: an unset typed option is an absent field,
  # so the prober's own default applies.
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

  # The targets a configuration implies: what it enables.
  #   ollama, openWebui: null, or { host, port }
  #   daemons: name -> { listen }, every hwc-ai daemon to probe
  defaultTargets =
    {
      ollama ? null,
      openWebui ? null,
      daemons ? { },
    }:
    (
      if ollama == null then
        [ ]
      else
        [
          {
            name = "ollama";
            kind = "ollama";
            url = httpUrl ollama.host ollama.port;
          }
        ]
    )
    ++ (
      if openWebui == null then
        [ ]
      else
        [
          {
            name = "open-webui";
            kind = "open-webui";
            url = httpUrl openWebui.host openWebui.port;
          }
        ]
    )
    ++ map (name: {
      inherit name;
      kind = "hwc-ai";
      url = "http://${net.localAddress daemons.${name}.listen}";
    }) (builtins.attrNames daemons);

  # The document the typed options describe.
  document =
    {
      listen,
      interval,
      timeout,
      failureThreshold,
      successThreshold,
      targets,
      webhooks ? [ ],
    }:
    compact (
      {
        inherit listen targets;
        defaults = {
          inherit
            interval
            timeout
            failureThreshold
            successThreshold
            ;
        };
      }
      // (if webhooks == [ ] then { } else { alerts = { inherit webhooks; }; })
    );

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

  # The hosts a document makes the prober connect to; null where the address
  # is only known at run time (`urlFrom` a secret).
  peers =
    doc:
    map (target: net.hostOf (target.url or target.address or "")) (doc.targets or [ ])
    ++ map (hook: if hook ? url then net.hostOf hook.url else null) (doc.alerts.webhooks or [ ]);

  # Target names that occur more than once.
  duplicateNames =
    targets:
    let
      names = map (t: t.name or "") targets;
      count = name: builtins.length (builtins.filter (n: n == name) names);
    in
    builtins.attrNames (
      builtins.listToAttrs (
        map (name: {
          inherit name;
          value = true;
        }) (builtins.filter (name: count name > 1) names)
      )
    );
  # The hwc-ai-prober unit, `systemd.services.hwc-ai-prober`.
  #   binDir: directory of the hwc-ai binaries
  #   configFile: path of the (checked) config document
  #   settings: the document itself, for the listen address and the peers
  #   credentials: name -> path, LoadCredential=
  #   after: local services it probes, started first
  unit =
    {
      binDir,
      configFile,
      settings,
      credentials ? { },
      after ? [ ],
    }:
    units.service {
      name = "hwc-ai-prober";
      description = "hwc-ai health prober";
      documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/docs/prober.md" ];
      execStart = "${binDir}/hwc-ai-prober --config ${configFile}";
      listen = settings.listen or "127.0.0.1:9430";
      peers = peers settings;
      inherit credentials after;
    };
in
{
  inherit
    unit
    compact
    defaultTargets
    document
    credentialsUsed
    peers
    duplicateNames
    ;
}
