# hwc-ai-prober's config document (docs/prober.md), as pure functions.
#
# Plain Nix: no `pkgs`, no `lib`. `modules/prober.nix` feeds the typed
# `hwc.ai.prober.*` options through these into `hwc.ai.prober.settings`; the
# offline checks call them directly and hand the result to
# `hwc-ai-prober --check-config`.
let
  net = import ./net.nix;
  units = import ./units.nix;
  util = import ./util.nix;
  daemon = (import ./daemons.nix).prober;
  inherit (net) httpUrl;
  inherit (util) compact;

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

  # The document the typed options describe. Probe settings left null are
  # left out, so the prober's own defaults apply.
  document =
    {
      listen,
      interval ? null,
      timeout ? null,
      failureThreshold ? null,
      successThreshold ? null,
      targets,
      webhooks ? [ ],
    }:
    let
      defaults = compact {
        inherit
          interval
          timeout
          failureThreshold
          successThreshold
          ;
      };
    in
    compact (
      {
        inherit listen targets;
      }
      // (if defaults == { } then { } else { inherit defaults; })
      // (if webhooks == [ ] then { } else { alerts = { inherit webhooks; }; })
    );

  # The hosts a document makes the prober connect to; null where the address
  # is only known at run time (`urlFrom` a secret).
  peers =
    doc:
    map (target: net.hostOf (target.url or target.address or "")) (doc.targets or [ ])
    ++ map (hook: if hook ? url then net.hostOf hook.url else null) (doc.alerts.webhooks or [ ]);

  # The hwc-ai-prober unit, `systemd.services.hwc-ai-prober`.
  #   limits: the unit's resource limits (units.nix `resourceLimits`)
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
      limits ? daemon.limits,
    }:
    units.service {
      inherit limits;
      name = daemon.unit;
      description = "hwc-ai ${daemon.description}";
      documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/${daemon.docs}" ];
      execStart = "${binDir}/hwc-ai-prober --config ${configFile}";
      listen = settings.listen or daemon.listen;
      peers = peers settings;
      inherit credentials after;
    };
in
{
  inherit
    unit
    defaultTargets
    document
    peers
    ;
}
