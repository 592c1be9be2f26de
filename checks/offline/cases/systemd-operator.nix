# The operator sets NixOS' own unit options on hwc-ai's units: they win over
# the module's defaults without "conflicting definition values", and render
# into [Unit] as NixOS renders them.
{
  config = {
    hwc.ai.enable = true;
    hwc.ai.models = [ "llama3.2:3b" ];
    systemd.services.hwc-ai-prober.startLimitIntervalSec = 600;
    systemd.services.hwc-ai-router = {
      startLimitIntervalSec = 0;
      startLimitBurst = 20;
      after = [ "postgresql.service" ];
      documentation = [ "https://wiki.example.org/hwc-ai" ];
    };
  };

  expect =
    { config, lib }:
    let
      prober = config.systemd.services.hwc-ai-prober;
      router = config.systemd.services.hwc-ai-router;
      puller = config.systemd.services.hwc-ai-puller;
    in
    [
      {
        what = "the operator's start limit interval wins";
        got = prober.unitConfig.StartLimitIntervalSec;
        want = "600";
      }
      {
        what = "the same value as the module's is no conflict";
        got = {
          inherit (router.unitConfig) StartLimitIntervalSec StartLimitBurst;
        };
        want = {
          StartLimitIntervalSec = "0";
          StartLimitBurst = "20";
        };
      }
      {
        what = "a unit the operator leaves alone keeps no start limit";
        got = puller.unitConfig.StartLimitIntervalSec;
        want = "0";
      }
      {
        what = "the operator's After= and Documentation= are added to the module's";
        got = {
          after = lib.elem "postgresql.service" router.after && lib.elem "network-online.target" router.after;
          documentation = lib.length router.documentation;
        };
        want = {
          after = true;
          documentation = 2;
        };
      }
    ];
}
