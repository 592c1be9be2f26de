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
#     `<configDir>/hwc-ai-mcp-server-<name>.json`)
{
  binDir,
  configDir,
  credentialsJson ? "{}",
  configsJson ? "{}",
}:
let
  prober = import ../../modules/lib/prober.nix;
  puller = import ../../modules/lib/puller.nix;
  router = import ../../modules/lib/router.nix;
  mcp = import ../../modules/lib/mcp.nix;
  assistant = import ../../modules/lib/assistant.nix;
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
        }) (prober.credentialsUsed configs.${daemon})
      )) credentials
    else
      credentials;

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
// {
  "hwc-ai-prober.service" = render (
    prober.unit {
      inherit binDir;
      credentials = credentialsOf "hwc-ai-prober";
      configFile = "${configDir}/hwc-ai-prober.json";
      settings = configs.hwc-ai-prober or { };
    }
  );
  "hwc-ai-puller.service" = render (
    puller.unit {
      inherit binDir;
      configFile = "${configDir}/hwc-ai-puller.json";
      settings = configs.hwc-ai-puller or { };
    }
  );
  "hwc-ai-router.service" = render (
    router.unit {
      inherit binDir;
      configFile = "${configDir}/hwc-ai-router.json";
      settings = configs.hwc-ai-router or { };
      credentials = credentialsOf "hwc-ai-router";
    }
  );
  "hwc-ai-assistant.service" = render (
    assistant.unit {
      inherit binDir;
      configFile = "${configDir}/hwc-ai-assistant.json";
      settings = configs.hwc-ai-assistant or { };
      credentials = credentialsOf "hwc-ai-assistant";
    }
  );
  "hwc-ai-mcp.service" = render (
    mcp.unit {
      inherit binDir;
      configFile = "${configDir}/hwc-ai-mcp.json";
      settings = mcpSettings;
      credentials = credentialsOf "hwc-ai-mcp";
      sockets = map (s: s.name) wrapped;
    }
  );
}
