# A remote server with a bearer token, a stdio server given the network and
# a directory, client keys, the gateway on every address: the token and the
# keys reach the gateway's unit as LoadCredential= and its document as
# credential names; the remote server's host name lifts the gateway's IP
# filter; the networked server keeps no IP filter and no private network,
# with its paths bound into an empty /home.
{
  config.hwc.ai = {
    enable = true;
    mcp = {
      listenAddress = "0.0.0.0";
      openFirewall = true;
      allowUnauthenticatedLoopback = false;
      clientKeys.open-webui = "/run/secrets/mcp-key-open-webui";
      allowedOrigins = [ "http://homelab.lan:8080" ];
      allowedHosts = [
        "localhost"
        "homelab.lan"
      ];
      checkInterval = "10s";
      servers = {
        docs = {
          url = "https://mcp.example.com/mcp";
          headers.X-Team = "homelab";
          bearerTokenFile = "/run/secrets/mcp-docs-token";
          tools.allow = [ "search_*" ];
          readOnly = true;
        };
        legacy = {
          url = "http://127.0.0.1:8808/sse";
          transport = "sse";
        };
        notes = {
          command = "/run/current-system/sw/bin/npx";
          args = [
            "-y"
            "@modelcontextprotocol/server-filesystem"
            "/home/alice/notes"
          ];
          initializeTimeout = "120s";
          sandbox = {
            network = true;
            readOnlyPaths = [ "/home/alice/notes" ];
            readWritePaths = [ "/srv/scratch" ];
            memoryMax = "1G";
            cpuQuota = "200%";
          };
        };
      };
    };
  };

  expect =
    { config, lib }:
    let
      gateway = config.systemd.services.hwc-ai-mcp;
      notes = config.systemd.services.hwc-ai-mcp-server-notes;
      settings = config.hwc.ai.mcp.settings;
    in
    [
      {
        what = "servers: the remote ones by URL (token by credential), the stdio one by socket";
        got = settings.servers;
        want = [
          {
            name = "docs";
            url = "https://mcp.example.com/mcp";
            transport = "streamable-http";
            headers.X-Team = "homelab";
            bearerToken.credential = "mcp-token-docs";
            tools.allow = [ "search_*" ];
            readOnly = true;
          }
          {
            name = "legacy";
            url = "http://127.0.0.1:8808/sse";
            transport = "sse";
          }
          {
            name = "notes";
            socket = "/run/hwc-ai-mcp/notes.sock";
          }
        ];
      }
      {
        what = "clients, origins, hosts, interval";
        got = {
          inherit (settings)
            listen
            clients
            allowedOrigins
            allowedHosts
            checkInterval
            ;
        };
        want = {
          listen = "0.0.0.0:9433";
          clients = {
            keys = [
              {
                name = "open-webui";
                key.credential = "mcp-key-open-webui";
              }
            ];
            allowUnauthenticatedLoopback = false;
          };
          allowedOrigins = [ "http://homelab.lan:8080" ];
          allowedHosts = [
            "localhost"
            "homelab.lan"
          ];
          checkInterval = "10s";
        };
      }
      {
        what = "the gateway loads the token and the key; no IP filter (a remote server by host name, a listener beyond loopback)";
        got = {
          inherit (gateway.serviceConfig) LoadCredential SupplementaryGroups;
          filtered = gateway.serviceConfig ? IPAddressDeny || gateway.serviceConfig ? IPAddressAllow;
        };
        want = {
          LoadCredential = [
            "mcp-key-open-webui:/run/secrets/mcp-key-open-webui"
            "mcp-token-docs:/run/secrets/mcp-docs-token"
          ];
          SupplementaryGroups = [ "hwc-ai-mcp-sockets" ];
          filtered = false;
        };
      }
      {
        what = "the networked server: the host's network, its paths, its bounds, after the network";
        got = {
          inherit (notes.serviceConfig)
            PrivateNetwork
            ProtectHome
            BindReadOnlyPaths
            BindPaths
            MemoryMax
            CPUQuota
            LoadCredential
            ;
          inherit (notes) after wants;
          filtered = notes.serviceConfig ? IPAddressDeny;
        };
        want = {
          PrivateNetwork = false;
          ProtectHome = "tmpfs";
          BindReadOnlyPaths = [ "/home/alice/notes" ];
          BindPaths = [ "/srv/scratch" ];
          MemoryMax = "1G";
          CPUQuota = "200%";
          LoadCredential = [ ];
          after = [ "network-online.target" ];
          wants = [ "network-online.target" ];
          filtered = false;
        };
      }
      {
        what = "only stdio servers get units and sockets";
        got = {
          services = lib.filter (lib.hasPrefix "hwc-ai-mcp") (lib.attrNames config.systemd.services);
          sockets = lib.attrNames config.systemd.sockets;
          configs = lib.attrNames config.hwc.ai.mcp.serverConfigFiles;
        };
        want = {
          services = [
            "hwc-ai-mcp"
            "hwc-ai-mcp-server-notes"
          ];
          sockets = [ "hwc-ai-mcp-server-notes" ];
          configs = [ "notes" ];
        };
      }
      {
        what = "no secret path in the rendered JSON; the port opened; probed through loopback; no warning";
        got = {
          secret = lib.hasInfix "/run/secrets" (builtins.toJSON settings);
          ports = config.networking.firewall.allowedTCPPorts;
          probed = (lib.findFirst (t: t.name == "hwc-ai-mcp") { } config.hwc.ai.prober.settings.targets).url or null;
          inherit (config) warnings;
        };
        want = {
          secret = false;
          ports = [ 9433 ];
          probed = "http://127.0.0.1:9433";
          warnings = [ ];
        };
      }
    ];
}
