# `hwc.ai.enable = true` and no MCP server: no gateway, no socket, no
# group; the prober and Prometheus do not look for it. Enabled without
# servers, the gateway runs alone (an empty /servers) on loopback.
{
  config = {
    hwc.ai.enable = true;
    services.prometheus.enable = true;
  };

  expect =
    { config, lib }:
    [
      {
        what = "no servers, no gateway";
        got = {
          inherit (config.hwc.ai.mcp) enable;
          units = lib.filter (lib.hasPrefix "hwc-ai-mcp") (lib.attrNames config.systemd.services);
          sockets = config.systemd.sockets;
          groups = config.users.groups;
        };
        want = {
          enable = false;
          units = [ ];
          sockets = { };
          groups = { };
        };
      }
      {
        what = "neither probed nor scraped";
        got = {
          probed = lib.any (t: t.name == "hwc-ai-mcp") config.hwc.ai.prober.settings.targets;
          scraped = lib.any (c: c.job_name == "hwc-ai-mcp") config.services.prometheus.scrapeConfigs;
        };
        want = {
          probed = false;
          scraped = false;
        };
      }
      {
        what = "the option defaults, as the docs give them";
        got = {
          inherit (config.hwc.ai.mcp)
            listenAddress
            port
            openFirewall
            allowUnauthenticatedLoopback
            allowedOrigins
            allowedHosts
            checkInterval
            ;
        };
        want = {
          listenAddress = "127.0.0.1";
          port = 9433;
          openFirewall = false;
          allowUnauthenticatedLoopback = true;
          allowedOrigins = [ ];
          allowedHosts = [
            "localhost"
            "127.0.0.1"
            "::1"
          ];
          # the gateway's own (30s)
          checkInterval = null;
        };
      }
    ];
}
