# Publishing a daemon on the LAN: `hwc.ai.<daemon>.publish` puts nixpkgs'
# nginx in front of the daemon's loopback listener, with TLS (ACME, a
# certificate of `security.acme.certs`, or a given certificate and key),
# HTTP/2, streaming-friendly proxying, a body size limit, and the firewall
# opened for that port only (docs/nixos.md, Publishing on the LAN).
#
# The daemons with an API and client keys can be published. Beyond
# loopback, directly or through nginx, every client needs a key: an
# evaluation without one fails and names the option to set. The daemon
# tells a proxied request by the X-Forwarded-For nginx sets and never
# admits it as a loopback one (crates/runtime/src/auth.rs).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;

  daemons = import ./lib/daemons.nix;
  net = import ./lib/net.nix;
  publishLib = import ./lib/publish.nix;

  # the daemons with client keys, in the table's order
  publishable = lib.filter (
    daemon:
    lib.elem daemon.name [
      "router"
      "mcp"
      "assistant"
    ]
  ) daemons.all;

  optionName = daemon: lib.concatStringsSep "." daemon.option;
  cfgOf = daemon: lib.getAttrFromPath daemon.option config;

  publishOptions = daemon: {
    enable = lib.mkEnableOption "publishing ${daemon.unit} on the LAN through nginx, with TLS; its clients then need a key (`clientKeys`)";

    serverName = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "${daemon.name}.home.example";
      description = ''
        The name clients use, and the certificate's: nginx serves the
        daemon under it.
      '';
    };

    port = mkOption {
      type = types.port;
      default = 443;
      description = ''
        The HTTPS port. Several published daemons share one port when their
        `serverName`s differ.
      '';
    };

    addresses = mkOption {
      type = types.listOf types.str;
      default = [
        "0.0.0.0"
        "[::]"
      ];
      example = [ "192.168.1.10" ];
      description = "The addresses nginx listens on for it (IPv6 in brackets).";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = true;
      description = "Open `port` (and 80, with `tls.acme`) in the firewall.";
    };

    maxBodySize = mkOption {
      type = types.strMatching "[0-9]+[kKmMgG]?";
      default = "8m";
      description = ''
        The largest request body nginx passes on (nginx's size: `8m`); a
        larger one is answered 413 before it reaches the daemon. The
        router accepts 8 MiB by default (`maxBodyBytes`).
      '';
    };

    readTimeout = mkOption {
      type = types.strMatching "[0-9]+(ms|s|m|h|d)?";
      default = "10m";
      description = ''
        The longest nginx waits for the daemon between two reads (nginx's
        time: `10m`). Longer than the router's whole-request budget (5m by
        default), so the daemon's own timeout and its error come first.
      '';
    };

    tls = {
      acme = mkOption {
        type = types.bool;
        default = false;
        description = ''
          A certificate from Let's Encrypt through nixpkgs' `security.acme`
          and nginx's `enableACME` (an HTTP challenge: `serverName` must
          reach this host on port 80 from the CA, and
          `security.acme.acceptTerms` and `defaults.email` be set). Plain
          HTTP is redirected to HTTPS.
        '';
      };
      acmeHost = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "home.example";
        description = ''
          The name of a certificate declared in `security.acme.certs` (a
          DNS challenge, a wildcard): the usual choice for names that only
          resolve on the LAN.
        '';
      };
      certificateFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/hwc-ai-tls/fullchain.pem";
        description = "A certificate (chain) file of your own, with `keyFile`; nginx must be able to read both.";
      };
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/hwc-ai-tls/key.pem";
        description = ''
          The certificate's private key: an absolute path as a string,
          never a Nix path, so it is not copied to the Nix store.
        '';
      };
    };
  };

  published = lib.filter (daemon: (cfgOf daemon).publish.enable) publishable;

  # "hwc.ai.router.listenAddress" and its value, for every address a
  # daemon's clients reach it on directly
  listeners =
    daemon:
    let
      cfg = cfgOf daemon;
    in
    [
      {
        option = "${optionName daemon}.listenAddress";
        address = cfg.listenAddress;
      }
    ]
    ++ lib.optional (cfg ? grpc && cfg.grpc.enable) {
      option = "${optionName daemon}.grpc.listenAddress";
      address = cfg.grpc.listenAddress;
    };

  assertionsFor =
    daemon:
    let
      cfg = cfgOf daemon;
      publish = cfg.publish;
      name = optionName daemon;
      tls = publish.tls;
      sources =
        lib.optional tls.acme "tls.acme"
        ++ lib.optional (tls.acmeHost != null) "tls.acmeHost"
        ++ lib.optional (tls.certificateFile != null || tls.keyFile != null) "tls.certificateFile";
      keyHint = "set ${name}.clientKeys.<client> (the path of a file holding that client's key)";
    in
    map (listener: {
      assertion = !cfg.enable || net.isLoopback listener.address || net.isLoopback (net.hostOf listener.address) || cfg.clientKeys != { };
      message = "${listener.option} = \"${listener.address}\" is beyond loopback, where every client needs a key: ${keyHint}";
    }) (listeners daemon)
    ++ lib.optionals publish.enable [
      {
        assertion = cfg.enable;
        message = "${name}.publish.enable: ${daemon.unit} is not enabled (${name}.enable)";
      }
      {
        assertion = cfg.clientKeys != { };
        message = "${name}.publish.enable: clients on the LAN would need no key; ${keyHint}";
      }
      {
        assertion = publish.serverName != null && publish.serverName != "";
        message = "${name}.publish.serverName must be set: the name clients use, and the certificate's";
      }
      {
        assertion = lib.length sources == 1;
        message = "${name}.publish.tls: set exactly one of tls.acme, tls.acmeHost, or tls.certificateFile with tls.keyFile (set: ${
          if sources == [ ] then "none" else lib.concatStringsSep ", " sources
        })";
      }
      {
        assertion = (tls.certificateFile == null) == (tls.keyFile == null);
        message = "${name}.publish.tls: certificateFile and keyFile go together";
      }
    ]
    ++ lib.optionals publish.enable (
      lib.concatMap
        (
          field:
          let
            path = tls.${field};
          in
          lib.optionals (path != null) [
            {
              assertion = lib.hasPrefix "/" path;
              message = "${name}.publish.tls.${field}: `${path}` is not an absolute path";
            }
            {
              assertion = field != "keyFile" || !(lib.hasPrefix builtins.storeDir path);
              message = "${name}.publish.tls.keyFile: `${path}` is in the Nix store, which every local user can read";
            }
          ]
        )
        [
          "certificateFile"
          "keyFile"
        ]
    );

  # two daemons under one name and port would be one nginx server
  endpoints = map (
    daemon:
    let
      p = (cfgOf daemon).publish;
    in
    "${p.serverName}:${toString p.port}"
  ) (lib.filter (daemon: (cfgOf daemon).publish.serverName != null) published);
in
{
  options = lib.foldl' lib.recursiveUpdate { } (
    map (daemon: lib.setAttrByPath (daemon.option ++ [ "publish" ]) (publishOptions daemon)) publishable
  );

  config = lib.mkMerge [
    {
      assertions =
        lib.concatMap assertionsFor publishable
        ++ [
          {
            assertion = lib.length (lib.unique endpoints) == lib.length endpoints;
            message = "hwc.ai.*.publish: two daemons are published under one serverName and port (${lib.concatStringsSep ", " endpoints}); give each its own name";
          }
        ];
    }

    (lib.mkIf (published != [ ]) {
      services.nginx = {
        enable = true;
        virtualHosts = lib.listToAttrs (
          map (
            daemon:
            let
              cfg = cfgOf daemon;
              p = cfg.publish;
            in
            lib.nameValuePair daemon.unit (
              publishLib.virtualHost {
                inherit (p)
                  serverName
                  port
                  addresses
                  tls
                  maxBodySize
                  readTimeout
                  ;
                upstream = net.hostPort cfg.listenAddress cfg.port;
              }
            )
          ) published
        );
      };

      networking.firewall.allowedTCPPorts = lib.unique (
        lib.concatMap (
          daemon:
          let
            p = (cfgOf daemon).publish;
          in
          lib.optionals p.openFirewall (
            publishLib.ports {
              inherit (p) port;
              inherit (p.tls) acme;
            }
          )
        ) published
      );
    })

    # nginx passes the name clients use as Host; the MCP gateway's DNS
    # rebinding guard accepts it too (a value set by hand replaces this)
    (lib.mkIf config.hwc.ai.mcp.publish.enable {
      hwc.ai.mcp.allowedHosts = lib.mkIf (config.hwc.ai.mcp.publish.serverName != null) (
        lib.mkOptionDefault [ config.hwc.ai.mcp.publish.serverName ]
      );
      warnings =
        lib.optional
          (
            config.hwc.ai.mcp.allowedHosts != [ ]
            && !(lib.elem config.hwc.ai.mcp.publish.serverName config.hwc.ai.mcp.allowedHosts)
          )
          "hwc.ai.mcp.publish.serverName `${toString config.hwc.ai.mcp.publish.serverName}` is not in hwc.ai.mcp.allowedHosts: clients through nginx are refused on /mcp/<name>; add it";
    })
  ];
}
