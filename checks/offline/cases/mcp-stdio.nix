# One stdio server: the gateway on loopback reaches it through
# `hwc-ai-mcp-server-time.socket`, whose group only the gateway joins; the
# server runs `hwc-ai-mcp wrap` in a unit of its own without the network,
# its secret loaded by that unit alone. Both documents are checked at build
# time; the prober and Prometheus find the gateway.
{
  config = {
    hwc.ai = {
      enable = true;
      mcp = {
        servers.time = {
          command = "/run/current-system/sw/bin/mcp-server-time";
          args = [
            "--local-timezone"
            "UTC"
          ];
          environment.TZ = "UTC";
          secretEnvironment.API_TOKEN = "/run/secrets/time-token";
          tools.deny = [ "convert_*" ];
        };
        settings.log.format = "json";
      };
    };
    services.prometheus.enable = true;
  };

  expect =
    { config, lib }:
    let
      gateway = config.systemd.services.hwc-ai-mcp;
      server = config.systemd.services.hwc-ai-mcp-server-time;
      store = "/nix/store/00000000000000000000000000000000";
      hardening = import ../../../modules/lib/hardening.nix;
    in
    [
      {
        what = "enabled by its servers";
        got = config.hwc.ai.mcp.enable;
        want = true;
      }
      {
        what = "the gateway's document";
        got = config.hwc.ai.mcp.settings;
        want = {
          listen = "127.0.0.1:9433";
          log.format = "json";
          allowedOrigins = [ ];
          allowedHosts = [
            "localhost"
            "127.0.0.1"
            "::1"
          ];
          clients = {
            keys = [ ];
            allowUnauthenticatedLoopback = true;
          };
          servers = [
            {
              name = "time";
              socket = "/run/hwc-ai-mcp/time.sock";
              tools.deny = [ "convert_*" ];
            }
          ];
        };
      }
      {
        what = "the gateway runs on its checked config, with the wrapper's socket group";
        got = {
          inherit (gateway.serviceConfig)
            ExecStart
            Type
            WatchdogSec
            DynamicUser
            SupplementaryGroups
            IPAddressDeny
            IPAddressAllow
            LoadCredential
            ;
          checked = lib.hasInfix "/bin/hwc-ai-mcp --check-config --config ${store}-hwc-ai-mcp.json" config.hwc.ai.mcp.configFile.buildCommand;
          inherit (gateway) after wants;
          writable = gateway.serviceConfig ? StateDirectory || gateway.serviceConfig ? ReadWritePaths;
        };
        want = {
          ExecStart = "${store}-hwc-ai/bin/hwc-ai-mcp --config ${store}-hwc-ai-mcp.json";
          Type = "notify";
          WatchdogSec = "30s";
          DynamicUser = true;
          SupplementaryGroups = [ "hwc-ai-mcp-sockets" ];
          IPAddressDeny = "any";
          IPAddressAllow = [ "localhost" ];
          LoadCredential = [ ];
          checked = true;
          after = [
            "network-online.target"
            "hwc-ai-mcp-server-time.socket"
          ];
          wants = [
            "network-online.target"
            "hwc-ai-mcp-server-time.socket"
          ];
          writable = false;
        };
      }
      {
        what = "the socket and its static group";
        got = {
          inherit (config.systemd.sockets.hwc-ai-mcp-server-time) listenStreams socketConfig wantedBy;
          groups = lib.attrNames config.users.groups;
        };
        want = {
          listenStreams = [ "/run/hwc-ai-mcp/time.sock" ];
          socketConfig = {
            SocketMode = "0660";
            SocketGroup = "hwc-ai-mcp-sockets";
            RemoveOnStop = true;
          };
          wantedBy = [ "sockets.target" ];
          groups = [ "hwc-ai-mcp-sockets" ];
        };
      }
      {
        what = "the server's unit: the wrapper on its checked document, without the network, its secret, bounded";
        got = {
          inherit (server.serviceConfig)
            ExecStart
            Type
            WatchdogSec
            Restart
            PrivateNetwork
            LoadCredential
            MemoryMax
            CPUQuota
            CacheDirectory
            ;
          inherit (server) wantedBy environment;
          checked = lib.hasInfix "/bin/hwc-ai-mcp wrap --check-config --config ${store}-hwc-ai-mcp-server-time.json" config.hwc.ai.mcp.serverConfigFiles.time.buildCommand;
        };
        want = {
          ExecStart = "${store}-hwc-ai/bin/hwc-ai-mcp wrap --config ${store}-hwc-ai-mcp-server-time.json";
          Type = "notify";
          WatchdogSec = "30s";
          Restart = "on-failure";
          PrivateNetwork = true;
          LoadCredential = [ "API_TOKEN:/run/secrets/time-token" ];
          MemoryMax = "512M";
          CPUQuota = "100%";
          CacheDirectory = "hwc-ai-mcp-server-time";
          wantedBy = [ ];
          environment.HOME = "%C/hwc-ai-mcp-server-time";
          checked = true;
        };
      }
      {
        what = "the server's unit keeps the hardening but for the commented relaxations";
        got = lib.attrNames (lib.filterAttrs (k: v: server.serviceConfig.${k} or null != v) hardening);
        want = [
          "MemoryDenyWriteExecute"
          "PrivateNetwork"
        ];
      }
      {
        what = "the gateway is probed and scraped; the wrappers are not (unix sockets)";
        got = {
          probed = lib.filter (t: lib.hasPrefix "hwc-ai-mcp" t.name) config.hwc.ai.prober.settings.targets;
          scraped = map (c: c.job_name) (
            lib.filter (c: lib.hasPrefix "hwc-ai-mcp" c.job_name) config.services.prometheus.scrapeConfigs
          );
        };
        want = {
          probed = [
            {
              name = "hwc-ai-mcp";
              kind = "hwc-ai";
              url = "http://127.0.0.1:9433";
            }
          ];
          scraped = [ "hwc-ai-mcp" ];
        };
      }
      {
        what = "no secret path in the rendered JSON; the firewall stays closed";
        got = {
          secret = lib.hasInfix "/run/secrets" (builtins.toJSON config.hwc.ai.mcp.settings);
          ports = config.networking.firewall.allowedTCPPorts;
        };
        want = {
          secret = false;
          ports = [ ];
        };
      }
    ];
}
