# The nginx configuration `hwc.ai.router.publish` gives a NixOS host, for
# Debian's nginx: the virtual host of modules/lib/publish.nix (a given
# certificate and key), rendered into a server block as nixpkgs' nginx
# module renders one (its listen lines, server_name, certificate, and the
# location: proxy_pass, then extraConfig), inside a minimal http block
# whose files all live under `dir`. test_publish.py starts nginx with it.
#
#   nix-instantiate --eval --json checks/peers/publish-nginx.nix \
#     --argstr dir D --argstr port 8443 --argstr upstream 127.0.0.1:9432 \
#     --argstr certificate D/cert.pem --argstr key D/key.pem [--argstr user root]
{
  dir,
  port,
  upstream,
  certificate,
  key,
  user ? "",
}:
let
  publish = import ../../modules/lib/publish.nix;
  vhost = publish.virtualHost {
    serverName = "localhost";
    port = builtins.fromJSON port;
    addresses = [ "127.0.0.1" ];
    inherit upstream;
    tls = {
      acme = false;
      acmeHost = null;
      certificateFile = certificate;
      keyFile = key;
    };
    maxBodySize = "8m";
    readTimeout = "10m";
  };
  location = vhost.locations."/";
  # nginx 1.22 (Debian 12) takes http2 on the listen line, as nixpkgs
  # rendered it before nginx 1.25.1
  listenLine =
    l:
    "listen ${l.addr}:${toString l.port} ${if l.ssl && vhost.http2 then "http2 " else ""}${
      if l.ssl then "ssl" else ""
    };";
in
''
  ${if user != "" then "user ${user};" else ""}
  daemon off;
  pid ${dir}/nginx.pid;
  error_log ${dir}/error.log info;
  events { }
  http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
      ${builtins.concatStringsSep "\n    " (map listenLine vhost.listen)}
      server_name ${vhost.serverName};
      ssl_certificate ${vhost.sslCertificate};
      ssl_certificate_key ${vhost.sslCertificateKey};
      location / {
        proxy_pass ${location.proxyPass};
        ${location.extraConfig}
      }
    }
  }
''
