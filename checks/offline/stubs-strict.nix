# The stand-ins of stubs.nix reject what NixOS rejects: each definition
# below fails nixpkgs' own declarations, so it must fail evaluation against
# the stand-ins too (a stand-in looser than NixOS hides a module bug until
# `nixos-rebuild`). Returns { case, what, ok, got, want } like eval.nix.
#
#   nix-instantiate --eval --strict --json checks/offline/stubs-strict.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib'
{ lib }:
let
  stubs = import ./stubs.nix { inherit lib; };

  # whether `force config` evaluates; only what NixOS itself reads (the
  # rendered unit, the option's value), not options left undefined
  evaluates =
    module: force:
    (builtins.tryEval (
      builtins.deepSeq (force
        (lib.evalModules {
          modules = [
            ../../modules
            stubs.module
            module
            { _module.args.pkgs = stubs.pkgs; }
          ];
        }).config
      ) true
    )).success;

  expect = want: what: force: module: rec {
    case = "stubs-strict.nix";
    inherit what;
    got = evaluates module force;
    inherit want;
    ok = got == want;
  };
  rejected = what: expect false "rejected as in NixOS: ${what}";
  accepted = what: expect true "accepted as in NixOS: ${what}";

  # what NixOS renders of a service unit
  service =
    config:
    let
      unit = config.systemd.services.x;
    in
    {
      inherit (unit)
        unitConfig
        serviceConfig
        wantedBy
        environment
        ;
    };
  option = path: config: lib.getAttrFromPath path config;

  # nginx: a vhost as its config file reads it, and every assertion held
  vhost =
    config:
    let
      failed = lib.filter (a: !a.assertion) config.assertions;
    in
    if failed != [ ] then throw (lib.head failed).message else config.services.nginx.virtualHosts.x;
  tlsVhost = extra: {
    services.nginx = {
      enable = true;
      virtualHosts.x = {
        onlySSL = true;
        sslCertificate = "/var/lib/tls/cert.pem";
        sslCertificateKey = "/var/lib/tls/key.pem";
        locations."/".proxyPass = "http://127.0.0.1:9432";
      }
      // extra;
    };
  };
in
[
  (accepted "a unit with NixOS' own options" service {
    systemd.services.x = {
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      startLimitIntervalSec = 0;
      serviceConfig = {
        Type = "notify";
        Restart = "on-failure";
      };
    };
  })
  (rejected "a unit name without its suffix in wantedBy" service {
    systemd.services.x.wantedBy = [ "multi-user" ];
  })
  (rejected "a unit name without its suffix in after" service {
    systemd.services.x.after = [ "network-online" ];
  })
  (rejected "an unknown Type=" service { systemd.services.x.serviceConfig.Type = "daemon"; })
  (rejected "an unknown Restart=" service { systemd.services.x.serviceConfig.Restart = "on-crash"; })
  (rejected "startLimitIntervalSec and unitConfig.StartLimitIntervalSec both set" service {
    systemd.services.x = {
      startLimitIntervalSec = 0;
      unitConfig.StartLimitIntervalSec = 0;
    };
  })
  (rejected "a list and a value for one serviceConfig key" service {
    systemd.services.x.serviceConfig.ExecStart = lib.mkMerge [
      [ "/bin/a" ]
      "/bin/b"
    ];
  })
  (accepted "one package for services.ollama.package, over a default" (option [ "services" "ollama" "package" ]) {
    services.ollama.package = lib.mkMerge [
      (lib.mkDefault stubs.pkgs.ollama)
      stubs.pkgs.ollama-cuda
    ];
  })
  (accepted "a scrape config as nixpkgs types it" (option [ "services" "prometheus" "scrapeConfigs" ]) {
    services.prometheus.scrapeConfigs = [
      {
        job_name = "x";
        scrape_interval = "15s";
        static_configs = [
          {
            targets = [ "127.0.0.1:9430" ];
            labels.host = "a";
          }
        ];
      }
    ];
  })
  (accepted "an nginx TLS vhost proxying to a loopback port" vhost (tlsVhost { }))
  (rejected "an nginx vhost with onlySSL and forceSSL" vhost (tlsVhost { forceSSL = true; }))
  (rejected "an nginx vhost with enableACME and useACMEHost" vhost (tlsVhost {
    enableACME = true;
    useACMEHost = "home.example";
  }))
  (rejected "an nginx TLS vhost without a certificate" vhost {
    services.nginx = {
      enable = true;
      virtualHosts.x.onlySSL = true;
    };
  })
  (rejected "an nginx certificate that is not an absolute path" vhost (tlsVhost {
    sslCertificate = "cert.pem";
  }))
  (rejected "an nginx location option that does not exist" vhost (tlsVhost {
    locations."/".proxyBuffering = false;
  }))
  (rejected "two packages for services.ollama.package" (option [ "services" "ollama" "package" ]) {
    services.ollama.package = lib.mkMerge [
      stubs.pkgs.ollama
      stubs.pkgs.ollama-cuda
    ];
  })
  (rejected "two hosts for services.ollama.host" (option [ "services" "ollama" "host" ]) {
    services.ollama.host = lib.mkMerge [
      "127.0.0.1"
      "0.0.0.0"
    ];
  })
  (rejected "an unknown services.ollama.acceleration" (option [ "services" "ollama" "acceleration" ]) {
    services.ollama.acceleration = "metal";
  })
  (rejected "a scrape config without job_name" (option [ "services" "prometheus" "scrapeConfigs" ]) {
    services.prometheus.scrapeConfigs = [ { static_configs = [ { targets = [ "127.0.0.1:9430" ]; } ]; } ];
  })
  (rejected "a scrape config with an unknown field" (option [ "services" "prometheus" "scrapeConfigs" ]) {
    services.prometheus.scrapeConfigs = [
      {
        job_name = "x";
        static_config = [ { targets = [ "127.0.0.1:9430" ]; } ];
      }
    ];
  })
  (rejected "a static config target that is not a string" (option [ "services" "prometheus" "scrapeConfigs" ]) {
    services.prometheus.scrapeConfigs = [
      {
        job_name = "x";
        static_configs = [ { targets = [ 9430 ]; } ];
      }
    ];
  })
]
