# Grafana without a local Prometheus: a data source only when given a URL;
# the dashboards always. No Grafana: nothing is provisioned. Rules can be
# turned off while the scrape stays.
{
  config = {
    hwc.ai.enable = true;
    services.grafana.enable = true;
    hwc.ai.grafana.prometheusUrl = "http://prometheus.lan:9090";
  };

  expect =
    { config, lib }:
    let
      provision = config.services.grafana.provision;
    in
    [
      {
        what = "the given Prometheus is the data source";
        got = map (d: d.url) provision.datasources.settings.datasources;
        want = [ "http://prometheus.lan:9090" ];
      }
      {
        what = "no scrape interval is guessed for a Prometheus elsewhere";
        got = map (d: d.jsonData) provision.datasources.settings.datasources;
        want = [ { } ];
      }
      {
        what = "the dashboards are provisioned";
        got = lib.length provision.dashboards.settings.providers;
        want = 1;
      }
      {
        what = "no Prometheus here: no rule file";
        got = config.services.prometheus.ruleFiles;
        want = [ ];
      }
    ];
}
