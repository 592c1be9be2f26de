# hwc-ai-puller's config document (docs/puller.md) and unit, as pure
# functions.
#
# Plain Nix: no `pkgs`, no `lib`. `modules/puller.nix` feeds the typed
# `hwc.ai.models` and `hwc.ai.puller.*` options through these into
# `hwc.ai.puller.settings`; the offline checks render the same unit.
let
  net = import ./net.nix;
  daemon = (import ./daemons.nix).puller;
  units = import ./units.nix;
  util = import ./util.nix;

  # Where the unit sees Ollama's models directory: a read-only bind mount,
  # so statvfs measures the right file system without the daemon being
  # able to reach Ollama's private state directory (DynamicUser's
  # /var/lib/private is closed to other users).
  modelsMount = "/run/hwc-ai-puller/ollama-models";

  stateDirectory = "hwc-ai-puller";

  # The document the typed options describe. `models` entries are strings
  # or { name, autoUpdate, validate }; null fields are left out so the
  # daemon's own defaults apply.
  document =
    {
      listen,
      ollamaUrl,
      models,
      keep ? null,
      prune ? null,
      maxConcurrentPulls ? null,
      schedule ? { },
      disk ? { },
    }:
    util.compact {
      inherit
        listen
        ollamaUrl
        keep
        prune
        maxConcurrentPulls
        ;
      # left out when no field of it is set
      schedule = if util.compact schedule == { } then null else schedule;
      models = map (m: if builtins.isString m then { name = m; } else m) models;
      disk = {
        path = modelsMount;
      }
      // disk;
      stateFile = "/var/lib/${stateDirectory}/state.json";
    };

  # Whether the document's Ollama runs on this host.
  ollamaIsLocal = settings: net.isLoopback (net.hostOf (settings.ollamaUrl or "http://127.0.0.1:11434"));

  # The hwc-ai-puller unit, `systemd.services.hwc-ai-puller`.
  #   limits: the unit's resource limits (units.nix `resourceLimits`)
  #   binDir: directory of the hwc-ai binaries
  #   configFile: path of the (checked) config document
  #   settings: the document itself, for the listen address and Ollama's URL
  #   modelsDir: Ollama's models directory on the host (OLLAMA_MODELS)
  #   ollamaUnit: the local Ollama unit to follow, or null
  unit =
    {
      binDir,
      configFile,
      settings,
      modelsDir ? "/var/lib/ollama/models",
      ollamaUnit ? null,
      limits ? daemon.limits,
    }:
    let
      base = units.service {
        inherit limits;
        name = daemon.unit;
        description = "hwc-ai ${daemon.description}";
        documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/${daemon.docs}" ];
        execStart = "${binDir}/hwc-ai-puller --config ${configFile}";
        listen = settings.listen or daemon.listen;
        peers = [ (net.hostOf (settings.ollamaUrl or "http://127.0.0.1:11434")) ];
        after = if ollamaUnit == null then [ ] else [ ollamaUnit ];
      };
    in
    base
    // (
      if ollamaUnit == null then
        { }
      else
        {
          # Bound to a local Ollama: stopped with it, started with it.
          bindsTo = [ ollamaUnit ];
          wantedBy = base.wantedBy ++ [ ollamaUnit ];
        }
    )
    // {
      # `systemctl kill -s HUP hwc-ai-puller` reconciles now.
      serviceConfig = base.serviceConfig // {
        # the only writable path: which digests passed validation
        StateDirectory = stateDirectory;
        # Ollama's models, read-only, for statvfs; "-": a directory Ollama
        # has not created yet is skipped (the daemon then says it cannot
        # measure the disk) instead of failing the start
        BindReadOnlyPaths = [ "-${modelsDir}:${modelsMount}" ];
      };
    };
in
{
  inherit
    document
    unit
    ollamaIsLocal
    modelsMount
    ;
}
