# A daemon published on the LAN: the nginx virtual host in front of its
# loopback listener (modules/publish.nix sets it as
# `services.nginx.virtualHosts.hwc-ai-<daemon>`), and the proxy directives
# it uses, which checks/publish/run renders into Debian's nginx too.
#
# Plain Nix: no `pkgs`, no `lib`.
let
  net = import ./net.nix;

  # The directives of the proxied location, as nginx reads them.
  #   maxBodySize: nginx's size ("8m"); readTimeout: nginx's time ("10m")
  locationConfig =
    { maxBodySize, readTimeout }:
    ''
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # the name the client used: the MCP gateway's allowedHosts checks it
      proxy_set_header Host $host;
      # set, never appended to: a client's own X-Forwarded-For is dropped,
      # and its presence tells the daemon the request came through here
      # (such a request needs a key even though it arrives from loopback)
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Real-IP $remote_addr;
      # streamed chat and server-sent events: every chunk reaches the
      # client when the daemon writes it, not when a buffer fills
      proxy_buffering off;
      proxy_cache off;
      # longer than any answer the daemon itself waits for (the router's
      # whole-request budget is 5m by default), so the daemon's own
      # timeout, with its error, comes first
      proxy_read_timeout ${readTimeout};
      proxy_send_timeout ${readTimeout};
      client_max_body_size ${maxBodySize};
    '';

  # The listeners: TLS on `port` at every address; with ACME over HTTP,
  # port 80 too (the challenge, and a redirect for everything else).
  listen =
    { addresses, port, acme }:
    map (addr: {
      inherit addr port;
      ssl = true;
    }) addresses
    ++ (
      if acme then
        map (addr: {
          inherit addr;
          port = 80;
          ssl = false;
        }) addresses
      else
        [ ]
    );

  # The virtual host, as nixpkgs' `services.nginx.virtualHosts.<name>`.
  #   upstream: the daemon's `host:port` (its listen address, reached locally)
  #   tls: { acme; acmeHost; certificateFile; keyFile } (one of the three)
  virtualHost =
    {
      serverName,
      port,
      addresses,
      upstream,
      tls,
      maxBodySize,
      readTimeout,
    }:
    {
      inherit serverName;
      listen = listen {
        inherit addresses port;
        inherit (tls) acme;
      };
      http2 = true;
      locations."/" = {
        proxyPass = "http://${net.localAddress upstream}";
        # its headers and 60s timeouts are replaced by locationConfig's
        recommendedProxySettings = false;
        extraConfig = locationConfig { inherit maxBodySize readTimeout; };
      };
    }
    // (
      if tls.acme then
        {
          enableACME = true;
          forceSSL = true;
        }
      else if tls.acmeHost != null then
        {
          useACMEHost = tls.acmeHost;
          onlySSL = true;
        }
      else
        # unset, not null, when missing: the module's assertion names it
        {
          onlySSL = true;
        }
        // (if tls.certificateFile != null then { sslCertificate = tls.certificateFile; } else { })
        // (if tls.keyFile != null then { sslCertificateKey = tls.keyFile; } else { })
    );

  # The ports to open: `port`, and 80 for an ACME HTTP challenge.
  ports = { port, acme }: [ port ] ++ (if acme then [ 80 ] else [ ]);
in
{
  inherit
    locationConfig
    listen
    virtualHost
    ports
    ;
}
