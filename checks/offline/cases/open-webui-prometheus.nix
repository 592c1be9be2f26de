# Open WebUI and Prometheus on the same host: Open WebUI is probed, every
# hwc-ai daemon is scraped, and a future daemon registers itself.
{
  config = {
    hwc.ai.enable = true;
    hwc.ai.prober.listenAddress = "0.0.0.0";
    services.open-webui = {
      enable = true;
      port = 3000;
    };
    services.prometheus.enable = true;
    # what a later daemon's module does
    hwc.ai.internal.daemons.hwc-ai-puller.listen = "127.0.0.1:9431";
  };

  expect =
    { config, lib }:
    [
      {
        what = "targets: Ollama, Open WebUI, the other daemons (not the prober itself)";
        got = config.hwc.ai.prober.settings.targets;
        want = [
          {
            name = "ollama";
            kind = "ollama";
            url = "http://127.0.0.1:11434";
          }
          {
            name = "open-webui";
            kind = "open-webui";
            url = "http://127.0.0.1:3000";
          }
          {
            name = "hwc-ai-puller";
            kind = "hwc-ai";
            url = "http://127.0.0.1:9431";
          }
          {
            name = "hwc-ai-router";
            kind = "hwc-ai";
            url = "http://127.0.0.1:9432";
          }
        ];
      }
      {
        what = "Prometheus scrapes every daemon, wildcard listeners through loopback";
        # as nixpkgs writes them to prometheus.yml: the unset (null) fields dropped
        got = map (lib.filterAttrsRecursive (_: v: v != null)) (config.services.prometheus.scrapeConfigs);
        want = [
          {
            job_name = "hwc-ai-prober";
            static_configs = [
              {
                targets = [ "127.0.0.1:9430" ];
                labels = { };
              }
            ];
          }
          {
            job_name = "hwc-ai-puller";
            static_configs = [
              {
                targets = [ "127.0.0.1:9431" ];
                labels = { };
              }
            ];
          }
          {
            job_name = "hwc-ai-router";
            static_configs = [
              {
                targets = [ "127.0.0.1:9432" ];
                labels = { };
              }
            ];
          }
        ];
      }
      {
        what = "ordered after open-webui.service";
        got = lib.elem "open-webui.service" config.systemd.services.hwc-ai-prober.after;
        want = true;
      }
      {
        what = "listening beyond loopback lifts the IP filter";
        got = config.systemd.services.hwc-ai-prober.serviceConfig ? IPAddressDeny;
        want = false;
      }
    ];
}
