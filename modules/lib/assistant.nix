# hwc-ai-assistant's unit, as a pure function (docs/assistant.md).
#
# Plain Nix: no `pkgs`, no `lib`. `modules/assistant.nix` passes the result
# to `systemd.services.hwc-ai-assistant`; the offline checks render the
# same unit and score it.
#
# The assistant reads the machine and writes nothing but its state
# directory (the audit log and the sessions). What it reads decides the
# relaxations of the shared hardening, each commented below.
let
  net = import ./net.nix;
  daemons = import ./daemons.nix;
  daemon = daemons.assistant;
  units = import ./units.nix;
  hardening = import ./hardening.nix;

  # Where the audit log and the sessions live (StateDirectory=).
  stateDirectory = "/var/lib/hwc-ai-assistant";

  # Its static system user and group. Not DynamicUser=: dbus-daemon runs
  # with SYSTEMD_NSS_DYNAMIC_BYPASS=1 (no dynamic-user lookups, which could
  # deadlock it) and so drops every connection from a dynamic user; the
  # assistant reads systemd over the system bus.
  user = "hwc-ai-assistant";

  # systemd credential names, read as $CREDENTIALS_DIRECTORY/NAME.
  clientKeyCredential = name: "assistant-key-${name}";
  routerKeyCredential = "assistant-router-key";
  haTokenCredential = "assistant-ha-token";
  haClientKeyCredential = "assistant-ha-client-key";
  k8sTokenCredential = "assistant-k8s-token";
  argocdTokenCredential = "assistant-argocd-token";
  vaultTokenCredential = "assistant-vault-token";
  forgeTokenCredential = "assistant-forge-token";
  docsRepositoryTokenCredential = "assistant-docs-repository-token";
  workflowNtfyTokenCredential = name: "assistant-workflow-${name}-ntfy-token";
  # its key for hwc-ai-mcp: the gateway's client key named hwc-ai-assistant
  mcpKeyCredential = "assistant-mcp-key";

  # A client name that can name a credential.
  isCredentialName = name: builtins.match "[A-Za-z0-9_.-]+" name != null;

  # The hosts its document makes it talk to: the router, the hwc-ai
  # daemons, Alertmanager or Prometheus, Home Assistant, the Kubernetes API
  # server, Argo CD, Vault, the forge (and a draft's git remote), the
  # hosts of `web_fetch`, the docs repository, the workflows' webhooks
  # and ntfy servers.
  peers =
    doc:
    let
      urls =
        [
          (doc.router.url or daemons.router.url)
          (doc.stack.proberUrl or daemons.prober.url)
          (doc.stack.pullerUrl or daemons.puller.url)
          (doc.stack.routerUrl or daemons.router.url)
        ]
        ++ (if doc ? alerts && doc.alerts ? alertmanagerUrl then [ doc.alerts.alertmanagerUrl ] else [ ])
        ++ (if doc ? alerts && doc.alerts ? prometheusUrl then [ doc.alerts.prometheusUrl ] else [ ])
        ++ (if doc ? homeAssistant then [ doc.homeAssistant.url ] else [ ])
        ++ (if doc ? kubernetes then [ doc.kubernetes.url ] else [ ])
        ++ (if doc ? argocd then [ doc.argocd.url ] else [ ])
        ++ (if doc ? vault then [ doc.vault.url ] else [ ])
        ++ (if doc ? forge then [ doc.forge.url ] else [ ])
        ++ (if doc ? web then doc.web.hosts else [ ])
        ++ (
          let
            url = doc.docsRepository.url or null;
          in
          if url != null && builtins.match "https?://.*" url != null then [ url ] else [ ]
        )
        ++ (
          let
            gitUrl = doc.forge.drafts.gitUrl or null;
          in
          if gitUrl != null && builtins.match "https?://.*" gitUrl != null then [ gitUrl ] else [ ]
        )
        # where the workflows send their results (docs/workflows.md)
        ++ builtins.concatMap (
          w:
          let
            output = w.output or { };
          in
          (if output ? webhook then [ output.webhook ] else [ ])
          ++ (if output ? ntfy then [ output.ntfy.url ] else [ ])
        ) (builtins.attrValues (doc.workflows or { }));
    in
    map net.hostOf urls;

  # What the declared workflows (docs/workflows.md) may touch beyond the
  # state directory: they write their output directories and a
  # file-triage's inbox and destinations, and read an auto-doc's source.
  # "-": a directory missing at start does not stop the unit; the run
  # that needs it fails naming it.
  workflowPaths =
    settings:
    let
      ws = builtins.attrValues (settings.workflows or { });
      unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
      optional = cond: x: if cond then [ x ] else [ ];
      writes =
        w:
        optional ((w.output or { }) ? directory) w.output.directory
        ++ (
          if (w.kind or "") == "file-triage" then
            optional (w ? inbox) w.inbox
            ++ map (d: d.directory) (builtins.attrValues (w.destinations or { }))
          else
            [ ]
        );
      reads = w: optional ((w.kind or "") == "auto-doc" && w ? source) w.source;
    in
    {
      readWrite = map (p: "-${p}") (unique (builtins.concatMap writes ws));
      readOnly = map (p: "-${p}") (unique (builtins.concatMap reads ws));
    };

  # One timer per workflow with a `schedule`, and its oneshot service,
  # which asks the running assistant (`hwc-ai workflow run NAME`): the
  # logic runs once, in the daemon, audited like every run.
  #   binDir: directory of the hwc-ai binaries
  #   settings: the assistant's document
  #   keyFile: a client key's file, when loopback needs one, or null
  workflowUnits =
    {
      binDir,
      settings,
      keyFile ? null,
    }:
    let
      scheduled = builtins.filter (name: (settings.workflows.${name}.schedule or null) != null) (
        builtins.attrNames (settings.workflows or { })
      );
      url = "http://${settings.listen or daemon.listen}";
      unitName = name: "hwc-ai-workflow-${name}";
      pairs = f: builtins.listToAttrs (map (name: { name = unitName name; value = f name; }) scheduled);
    in
    {
      timers = pairs (name: {
        description = "hwc-ai workflow ${name} on its schedule";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = settings.workflows.${name}.schedule;
          # a run missed while the machine was off runs at the next boot
          Persistent = true;
          # many hosts on one schedule do not ask their models at once
          RandomizedDelaySec = "5m";
        };
      });
      services = pairs (name: {
        description = "hwc-ai workflow ${name}";
        documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/docs/workflows.md" ];
        after = [ "hwc-ai-assistant.service" ];
        wants = [ "hwc-ai-assistant.service" ];
        # the daemons' strict sandbox: it only asks the assistant on
        # loopback, and writes nothing (the run writes, in the daemon)
        serviceConfig =
          hardening
          // {
            Type = "oneshot";
            ExecStart =
              "${binDir}/hwc-ai workflow run ${name} --url ${url}"
              + (if keyFile == null then "" else " --key-file %d/key");
            # no socket but TCP to the assistant
            RestrictAddressFamilies = [
              "AF_INET"
              "AF_INET6"
            ];
            IPAddressDeny = "any";
            IPAddressAllow = [ "localhost" ];
          }
          // (if keyFile == null then { } else { LoadCredential = [ "key:${keyFile}" ]; });
      });
    };

  # The `systemd.services.hwc-ai-assistant` attrset.
  #   limits: the unit's resource limits (units.nix `resourceLimits`)
  #   binDir: directory of the hwc-ai binaries
  #   configFile: path of the (checked) config document
  #   settings: the document, for the listen address and the peers
  #   credentials: name -> path, LoadCredential=
  #   containerGroup: the group that may use the container engine's socket,
  #     or null
  unit =
    {
      binDir,
      configFile,
      settings,
      credentials ? { },
      containerGroup ? null,
      limits ? daemon.limits,
    }:
    let
      grpcListen = settings.grpc.listen or null;
      base = units.service {
        inherit limits;
        name = daemon.unit;
        description = "hwc-ai ${daemon.description}";
        documentation = [ "https://github.com/hwc-ai/hwc-ai/blob/main/${daemon.docs}" ];
        execStart = "${binDir}/hwc-ai-assistant --config ${configFile}";
        # the IP filter follows the wider of its two listeners: a gRPC API
        # beyond loopback has clients from anywhere, like an HTTP one
        listen =
          if grpcListen != null && !(net.isLoopback (net.hostOf grpcListen)) then
            grpcListen
          else
            settings.listen or daemon.listen;
        peers = peers settings;
        after = [ "hwc-ai-router.service" ];
        inherit credentials;
      };
    in
    base
    // {
      serviceConfig = base.serviceConfig // {
        # a static user, not a dynamic one: see `user` above
        DynamicUser = false;
        User = user;
        Group = user;
        # the audit log and the sessions: the only place it writes
        StateDirectory = "hwc-ai-assistant";
        StateDirectoryMode = "0700";
        # recent_failures reads the journal's files (group systemd-journal);
        # containers reads the engine's socket (its group), GET only
        SupplementaryGroups = [ "systemd-journal" ] ++ (if containerGroup == null then [ ] else [ containerGroup ]);
        # system_overview reads /proc/stat, /proc/meminfo, /proc/loadavg and
        # /proc/uptime, which ProcSubset=pid hides; other processes stay
        # invisible (ProtectProc=invisible)
        ProcSubset = "all";
        # disk_usage statvfs()es every mounted filesystem, /home's too;
        # read-only instead of hidden (it reads no file there)
        ProtectHome = "read-only";
      }
      // (
        let
          paths = workflowPaths settings;
        in
        (if paths.readWrite == [ ] then { } else { ReadWritePaths = paths.readWrite; })
        // (if paths.readOnly == [ ] then { } else { ReadOnlyPaths = paths.readOnly; })
      );
    };
in
{
  inherit
    stateDirectory
    user
    clientKeyCredential
    routerKeyCredential
    haTokenCredential
    haClientKeyCredential
    k8sTokenCredential
    argocdTokenCredential
    vaultTokenCredential
    forgeTokenCredential
    docsRepositoryTokenCredential
    workflowNtfyTokenCredential
    mcpKeyCredential
    isCredentialName
    peers
    unit
    workflowPaths
    workflowUnits
    ;
}
