# The router, the MCP gateway and the assistant published on the LAN: one
# nginx virtual host each, TLS from each kind of source, the firewall
# opened for their ports only, the gateway's allowedHosts with the name.
{
  config = {
    hwc.ai = {
      enable = true;
      router = {
        clientKeys.laptop = "/run/secrets/router-key-laptop";
        publish = {
          enable = true;
          serverName = "ai.home.example";
          tls = {
            certificateFile = "/var/lib/hwc-ai-tls/fullchain.pem";
            keyFile = "/var/lib/hwc-ai-tls/key.pem";
          };
        };
      };
      mcp = {
        servers.time.command = "/run/current-system/sw/bin/mcp-server-time";
        clientKeys.laptop = "/run/secrets/mcp-key-laptop";
        publish = {
          enable = true;
          serverName = "mcp.home.example";
          port = 8443;
          tls.acme = true;
        };
      };
      assistant = {
        enable = true;
        router.model = "qwen3:8b";
        clientKeys.laptop = "/run/secrets/assistant-key-laptop";
        publish = {
          enable = true;
          serverName = "assistant.home.example";
          addresses = [ "192.168.1.10" ];
          openFirewall = false;
          tls.acmeHost = "home.example";
        };
      };
    };
  };

  expect =
    { config, lib }:
    let
      vhosts = config.services.nginx.virtualHosts;
      router = vhosts.hwc-ai-router;
      location = router.locations."/";
    in
    [
      {
        what = "nginx runs, with one virtual host per published daemon";
        got = {
          inherit (config.services.nginx) enable;
          hosts = lib.attrNames vhosts;
        };
        want = {
          enable = true;
          hosts = [
            "hwc-ai-assistant"
            "hwc-ai-mcp"
            "hwc-ai-router"
          ];
        };
      }
      {
        what = "the router: TLS only on 443 with the given certificate, HTTP/2, proxied to its loopback listener";
        got = {
          inherit (router)
            serverName
            onlySSL
            forceSSL
            http2
            listen
            rendered
            ;
          inherit (location) proxyPass recommendedProxySettings;
        };
        want = {
          serverName = "ai.home.example";
          onlySSL = true;
          forceSSL = false;
          http2 = true;
          listen = map (addr: {
            inherit addr;
            port = 443;
            ssl = true;
            proxyProtocol = false;
            extraParameters = [ ];
          }) [ "0.0.0.0" "[::]" ];
          rendered = {
            certificate = "/var/lib/hwc-ai-tls/fullchain.pem";
            key = "/var/lib/hwc-ai-tls/key.pem";
          };
          proxyPass = "http://127.0.0.1:9432";
          recommendedProxySettings = false;
        };
      }
      {
        what = "streaming-friendly: no response buffering, long timeouts, a body limit, X-Forwarded-For replaced";
        got = map (directive: lib.hasInfix directive location.extraConfig) [
          "proxy_buffering off;"
          "proxy_read_timeout 10m;"
          "client_max_body_size 8m;"
          "proxy_set_header X-Forwarded-For $remote_addr;"
          "proxy_set_header Host $host;"
        ];
        want = [ true true true true true ];
      }
      {
        what = "the gateway: ACME, plain HTTP on 80 for the challenge and the redirect";
        got = {
          inherit (vhosts.hwc-ai-mcp) enableACME forceSSL rendered;
          listen = map (l: "${l.addr}:${toString l.port}${if l.ssl then " ssl" else ""}") vhosts.hwc-ai-mcp.listen;
        };
        want = {
          enableACME = true;
          forceSSL = true;
          rendered = {
            certificate = "/var/lib/acme/mcp.home.example/fullchain.pem";
            key = "/var/lib/acme/mcp.home.example/key.pem";
          };
          listen = [
            "0.0.0.0:8443 ssl"
            "[::]:8443 ssl"
            "0.0.0.0:80"
            "[::]:80"
          ];
        };
      }
      {
        what = "the assistant: a security.acme certificate by name, on one address";
        got = {
          inherit (vhosts.hwc-ai-assistant) useACMEHost onlySSL rendered;
          listen = map (l: l.addr) vhosts.hwc-ai-assistant.listen;
        };
        want = {
          useACMEHost = "home.example";
          onlySSL = true;
          rendered = {
            certificate = "/var/lib/acme/home.example/fullchain.pem";
            key = "/var/lib/acme/home.example/key.pem";
          };
          listen = [ "192.168.1.10" ];
        };
      }
      {
        what = "the firewall: 443 for the router, 8443 and 80 for the gateway, nothing for the assistant";
        got = lib.sort lib.lessThan config.networking.firewall.allowedTCPPorts;
        want = [ 80 443 8443 ];
      }
      {
        what = "the gateway accepts the published name as Host, besides loopback's";
        got = config.hwc.ai.mcp.allowedHosts;
        want = [ "localhost" "127.0.0.1" "::1" "mcp.home.example" ];
      }
      {
        what = "the daemons still listen on loopback";
        got = map (d: config.hwc.ai.${d}.listenAddress) [ "router" "mcp" "assistant" ];
        want = [ "127.0.0.1" "127.0.0.1" "127.0.0.1" ];
      }
    ];
}
