# Every hwc-ai unit file, rendered from the same pure functions the NixOS
# module uses (`modules/lib/`), for a host without NixOS. Used by
# `render-units.sh`; returns { "<unit>.service" = "<text>"; }.
#
#   binDir: where the hwc-ai binaries are, as the unit will see them
#   configDir: where the daemons' config documents are (<daemon>.json)
#   credentialsJson: JSON object, credential name -> path (LoadCredential=);
#     each unit loads those its config names, or all of them when its config
#     is not known
#   configsJson: JSON object, daemon -> its config document, when known where
#     the unit is rendered; it decides the IP filter (loopback-only unless a
#     target or backend is elsewhere), exactly as in the module. The
#     gateway's (hwc-ai-mcp) also decides which wrapped stdio servers get a
#     socket and a service (`hwc-ai-mcp-server-<name>`, config
#     `<configDir>/hwc-ai-mcp-server-<name>.json`); the assistant's, which
#     of its workflows get a timer and a service (`hwc-ai-workflow-<name>`)
{
  binDir,
  configDir,
  credentialsJson ? "{}",
  configsJson ? "{}",
}:
let
  util = import ../../modules/lib/util.nix;
  daemons = import ../../modules/lib/daemons.nix;
  mcp = import ../../modules/lib/mcp.nix;
  render = import ./unit-file.nix;
  credentials = builtins.fromJSON credentialsJson;
  configs = builtins.fromJSON configsJson;

  # The credentials a daemon's config names, as the module declares them.
  credentialsOf =
    daemon:
    if configs ? ${daemon} then
      builtins.intersectAttrs (builtins.listToAttrs (
        map (name: {
          inherit name;
          value = true;
        }) (util.credentialsUsed configs.${daemon})
      )) credentials
    else
      credentials;

  # the assistant's scheduled workflows: a timer and its oneshot service
  # each (`hwc-ai-workflow-<name>`)
  workflows = (import ../../modules/lib/assistant.nix).workflowUnits {
    inherit binDir;
    settings = configs.hwc-ai-assistant or { };
  };
  workflowUnits =
    let
      rendered =
        suffix: set:
        map (name: {
          name = "${name}.${suffix}";
          value = render set.${name};
        }) (builtins.attrNames set);
    in
    builtins.listToAttrs (rendered "timer" workflows.timers ++ rendered "service" workflows.services);

  mcpSettings = configs.hwc-ai-mcp or { };
  # the stdio servers the gateway reaches through wrappers' sockets
  wrapped = builtins.filter (s: s ? socket) (mcpSettings.servers or [ ]);
  wrappedUnits = builtins.listToAttrs (
    builtins.concatMap (
      s:
      let
        unit = mcp.serverUnit s.name;
      in
      [
        {
          name = "${unit}.socket";
          value = render (mcp.serverSocket {
            inherit (s) name;
            path = s.socket;
          });
        }
        {
          name = "${unit}.service";
          value = render (
            mcp.serverService {
              inherit binDir;
              inherit (s) name;
              configFile = "${configDir}/${unit}.json";
              credentials = credentialsOf unit;
            }
          );
        }
      ]
    ) wrapped
  );
in
wrappedUnits
// workflowUnits
# every daemon of the table (modules/lib/daemons.nix), from its library's
# `unit`, given what of this it takes (the prober its credentials, the
# gateway its wrappers' sockets, ...)
// builtins.listToAttrs (
  map (
    daemon:
    let
      inherit (import daemon.library) unit;
    in
    {
      name = "${daemon.unit}.service";
      value = render (
        unit (
          builtins.intersectAttrs (builtins.functionArgs unit) {
            inherit binDir;
            configFile = "${configDir}/${daemon.unit}.json";
            settings = configs.${daemon.unit} or { };
            credentials = credentialsOf daemon.unit;
            sockets = map (s: s.name) wrapped;
          }
        )
      );
    }
  ) daemons.all
)
