# Grafana, Prometheus and Alertmanager on the same host: the alert rules
# are loaded, Grafana gets this Prometheus as a data source and the
# dashboards, and the assistant's alerts tool asks this Alertmanager.
{
  config = {
    hwc.ai.enable = true;
    services.prometheus = {
      enable = true;
      listenAddress = "0.0.0.0";
      port = 9091;
      globalConfig.scrape_interval = "30s";
      alertmanager.enable = true;
    };
    services.grafana.enable = true;
    hwc.ai.assistant = {
      enable = true;
      router.model = "llama3.2:3b";
    };
  };

  expect =
    { config, lib }:
    let
      provision = config.services.grafana.provision;
      providers = provision.dashboards.settings.providers;
    in
    [
      {
        what = "the assistant's alerts tool asks this host's Alertmanager (and Prometheus)";
        got = config.hwc.ai.assistant.settings.alerts;
        want = {
          alertmanagerUrl = "http://127.0.0.1:9093";
          prometheusUrl = "http://127.0.0.1:9091";
        };
      }
      {
        what = "the alert rules are a rule file of Prometheus";
        got = map baseNameOf config.services.prometheus.ruleFiles;
        want = [ "alert-rules.yml" ];
      }
      {
        what = "provisioning is on";
        got = provision.enable;
        want = true;
      }
      {
        what = "the data source: this Prometheus through loopback, its scrape interval";
        got = map (d: { inherit (d) name uid type url jsonData; }) provision.datasources.settings.datasources;
        want = [
          {
            name = "hwc-ai Prometheus";
            uid = "hwc-ai-prometheus";
            type = "prometheus";
            url = "http://127.0.0.1:9091";
            jsonData.timeInterval = "30s";
          }
        ];
      }
      {
        what = "one provider, in the hwc-ai folder, not editable in the UI";
        got = map (p: { inherit (p) name folder allowUiUpdates; }) providers;
        want = [
          {
            name = "hwc-ai";
            folder = "hwc-ai";
            allowUiUpdates = false;
          }
        ];
      }
      {
        what = "the provider's directory holds the overview and one dashboard per daemon";
        got = map (e: e.name) (lib.head providers).options.path.entries;
        want = [
          "hwc-ai-assistant.json"
          "hwc-ai-mcp.json"
          "hwc-ai-overview.json"
          "hwc-ai-prober.json"
          "hwc-ai-puller.json"
          "hwc-ai-router.json"
        ];
      }
      {
        what = "each entry is the dashboard file shipped in the repository";
        got = lib.all (e: builtins.pathExists e.path) (lib.head providers).options.path.entries;
        want = true;
      }
    ];
}
