# The prober's options before they took its name (hwc.ai.health.*) still
# evaluate: each sets its hwc.ai.prober.* counterpart, with the warning
# nixpkgs gives for a renamed option.
{
  config.hwc.ai = {
    enable = true;
    health = {
      port = 9440;
      interval = "10s";
      credentials.grafana-token = "/run/secrets/grafana-token";
      targets = [
        {
          name = "grafana";
          kind = "http";
          url = "http://127.0.0.1:3000/api/health";
          bearerToken.credential = "grafana-token";
        }
      ];
      alerts.webhooks = [
        {
          name = "hook";
          url = "http://127.0.0.1:8080/hook";
        }
      ];
      settings.maxConcurrentProbes = 4;
    };
  };

  expect =
    { config, lib }:
    let
      cfg = config.hwc.ai.prober;
      warned = old: lib.any (w: lib.hasInfix "`${old}'" w && lib.hasInfix "hwc.ai.prober" w) config.warnings;
    in
    [
      {
        what = "the new options hold the old values";
        got = {
          inherit (cfg) port interval credentials;
          listen = cfg.settings.listen;
          targets = map (t: t.name) cfg.targets;
          webhooks = map (w: w.name) cfg.alerts.webhooks;
          inherit (cfg.settings) maxConcurrentProbes;
          defaults = cfg.settings.defaults.interval;
        };
        want = {
          port = 9440;
          interval = "10s";
          credentials.grafana-token = "/run/secrets/grafana-token";
          listen = "127.0.0.1:9440";
          targets = [ "grafana" ];
          webhooks = [ "hook" ];
          maxConcurrentProbes = 4;
          defaults = "10s";
        };
      }
      {
        what = "and the unit follows them";
        got = config.systemd.services.hwc-ai-prober.serviceConfig.LoadCredential;
        want = [ "grafana-token:/run/secrets/grafana-token" ];
      }
      {
        what = "each old name used warns, naming the new one";
        got = map warned [
          "hwc.ai.health.port"
          "hwc.ai.health.interval"
          "hwc.ai.health.credentials"
          "hwc.ai.health.targets"
          "hwc.ai.health.alerts.webhooks"
          "hwc.ai.health.settings"
        ];
        want = [ true true true true true true ];
      }
      {
        what = "and no other warns";
        got = builtins.length config.warnings;
        want = 6;
      }
    ];
}
