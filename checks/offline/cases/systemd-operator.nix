# The operator sets NixOS' own options that the module sets too: unit
# options on hwc-ai's units win over the module's defaults without
# "conflicting definition values" and render into [Unit] as NixOS renders
# them; lists (serviceConfig additions, scrape configs, firewall ports) are
# added to the module's.
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
      serviceConfig.MemoryMax = "2G";
    };
    services.prometheus = {
      enable = true;
      scrapeConfigs = [
        {
          job_name = "node";
          static_configs = [ { targets = [ "127.0.0.1:9100" ]; } ];
        }
      ];
    };
    networking.firewall.allowedTCPPorts = [ 22 ];
    hwc.ai.router.openFirewall = true;
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
      {
        what = "the operator's serviceConfig key is added to the module's";
        got = {
          inherit (router.serviceConfig) MemoryMax Type;
        };
        want = {
          MemoryMax = "2G";
          Type = "notify";
        };
      }
      {
        what = "the operator's scrape config and firewall port are kept beside the module's";
        got = {
          jobs = lib.sort lib.lessThan (map (c: c.job_name) config.services.prometheus.scrapeConfigs);
          ports = lib.sort lib.lessThan config.networking.firewall.allowedTCPPorts;
        };
        want = {
          jobs = [
            "hwc-ai-prober"
            "hwc-ai-puller"
            "hwc-ai-router"
            "node"
          ];
          ports = [
            22
            9432
          ];
        };
      }
    ];
}
