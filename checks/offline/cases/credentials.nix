# A target with a secret: the secret's path reaches the unit as
# LoadCredential=, the document holds only the credential's name.
{
  config.hwc.ai = {
    enable = true;
    prober = {
      credentials = {
        grafana-token = "/run/secrets/grafana-token";
        ntfy-url = "/run/secrets/ntfy-url";
      };
      targets = [
        {
          name = "grafana";
          kind = "http";
          url = "https://grafana.lan/api/health";
          bearerToken.credential = "grafana-token";
          body = {
            jsonPointer = "/database";
            equals = "ok";
          };
          tls.caFile = "/etc/ssl/lan-ca.pem";
          interval = "10s";
        }
      ];
      alerts.webhooks = [
        {
          name = "ntfy";
          urlFrom.credential = "ntfy-url";
          format = "ntfy";
        }
      ];
    };
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-prober;
      json = builtins.toJSON config.hwc.ai.prober.settings;
    in
    [
      {
        what = "LoadCredential= for each credential";
        got = unit.serviceConfig.LoadCredential;
        want = [
          "grafana-token:/run/secrets/grafana-token"
          "ntfy-url:/run/secrets/ntfy-url"
        ];
      }
      {
        what = "the target refers to the credential by name";
        got = lib.findFirst (t: t.name == "grafana") null config.hwc.ai.prober.settings.targets;
        want = {
          name = "grafana";
          kind = "http";
          url = "https://grafana.lan/api/health";
          bearerToken = {
            credential = "grafana-token";
          };
          body = {
            jsonPointer = "/database";
            equals = "ok";
          };
          tls = {
            caFile = "/etc/ssl/lan-ca.pem";
          };
          interval = "10s";
        };
      }
      {
        what = "the webhook URL comes from a credential";
        got = config.hwc.ai.prober.settings.alerts.webhooks;
        want = [
          {
            name = "ntfy";
            urlFrom = {
              credential = "ntfy-url";
            };
            format = "ntfy";
          }
        ];
      }
      {
        what = "no secret path in the rendered JSON";
        got = lib.hasInfix "/run/secrets" json;
        want = false;
      }
      {
        what = "a peer named by host name lifts the IP filter";
        got = unit.serviceConfig ? IPAddressDeny;
        want = false;
      }
    ];
}
