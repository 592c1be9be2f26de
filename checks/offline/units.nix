# Every hwc-ai unit file, rendered from the same pure functions the NixOS
# module uses (`modules/lib/`), for a host without NixOS. Used by
# `render-units.sh`; returns { "<unit>.service" = "<text>"; }.
#
#   binDir: where the hwc-ai binaries are, as the unit will see them
#   configDir: where the daemons' config documents are (<daemon>.json)
#   credentialsJson: JSON object, credential name -> path (LoadCredential=)
#   configsJson: JSON object, daemon -> its config document, when known where
#     the unit is rendered; it decides the IP filter (loopback-only unless a
#     target is elsewhere), exactly as in the module
{
  binDir,
  configDir,
  credentialsJson ? "{}",
  configsJson ? "{}",
}:
let
  prober = import ../../modules/lib/prober.nix;
  puller = import ../../modules/lib/puller.nix;
  render = import ./unit-file.nix;
  credentials = builtins.fromJSON credentialsJson;
  configs = builtins.fromJSON configsJson;
in
{
  "hwc-ai-prober.service" = render (
    prober.unit {
      inherit binDir credentials;
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
}
