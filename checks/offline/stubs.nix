# Stand-ins for the NixOS options and the `pkgs` attributes the hwc-ai module
# uses, so the module evaluates with `lib.evalModules` and nixpkgs' `lib`
# alone. Each declaration has its NixOS counterpart's type, default and
# merge, and the typed unit options render into `unitConfig` as NixOS renders
# them, so a definition NixOS would reject (two values of one option, a unit
# name without its suffix, an unknown Type=) is rejected here too; an option
# the module sets that is not declared here is an evaluation error, as in
# NixOS.
#
# They follow nixpkgs' declarations at these commits:
#   nixos/lib/systemd-unit-options.nix          515c8fb59bc189b54fc47113d6248cd45f607f65
#     (unitOption, the unit options and their types)
#   nixos/lib/systemd-lib.nix                   6f03be6bc8255385259c5652a993fbbd751e2103
#     (unitNameType, checkUnitConfig, the rendering into [Unit]; the Type=
#     and Restart= values are those of current nixpkgs, notify-reload and
#     on-watchdog included)
#   nixos/modules/services/misc/ollama.nix      071a30aead7675355a957e8a9f9295aa24c6d91c
#   nixos/modules/services/monitoring/prometheus/default.nix
#                                               80f38e9032a8fc3af44a04800e1e149f30b00603
#     (scrape_config and static_config; listenAddress, port, rules,
#     ruleFiles and globalConfig as in current nixpkgs)
#   nixos/modules/services/monitoring/grafana.nix
#                                               88c82ee3ecd674f2a7a7f599170d505260849c49
#     (provision.enable, provision.{datasources,dashboards}.{settings,path})
#   nixos/modules/config/users-groups.nix      b69a0b599fef1d6fd5aff59e1e07135fff17c359
#     (users.users: the description is a passwd entry)
#   nixos/modules/services/web-servers/nginx/default.nix
#                                               000007c122b85672b78037272c41adbbe693a1a4
#   nixos/modules/services/web-servers/nginx/vhost-options.nix
#                                               0050271eb3b56e41703dc6ab04a11182317dd543
#     (virtualHosts and their locations; the assertions on SSL modes, ACME
#     and HTTP listeners; the certificate paths as the config file reads
#     them, so a TLS vhost without a certificate fails as in NixOS;
#     locations' recommendedProxySettings as in current nixpkgs)
# stubs-strict.nix proves that they reject what NixOS rejects.
{ lib }:
let
  inherit (lib) mkOption types;

  # A store path that does not exist: evaluation never builds anything.
  fakeDrv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    }
    // extra;

  # nixos/lib/systemd-lib.nix: a unit name, with the suffix of its kind
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";

  # nixos/lib/systemd-unit-options.nix: lists concatenate, other values must
  # agree; a mix of both is an error
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.isList (lib.head defs').value then
        lib.concatMap (
          def:
          if builtins.typeOf def.value == "list" then
            def.value
          else
            throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${lib.showOption loc}, the definitions are a mix of list and non-list ${lib.options.showDefs defs'}"
        ) defs'
      else
        lib.mergeEqualOption loc defs';
  };

  # nixos/lib/systemd-lib.nix: checkUnitConfig and assertValueOneOf, as
  # serviceConfig's type checks Type= and Restart=
  checkUnitConfig =
    group: checks: attrs:
    let
      defs = lib.mapAttrs (
        _: v:
        if v._type or "" == "override" then
          v.content
        else if v._type or "" == "if" then
          v.content
        else
          v
      ) attrs;
      errors = lib.concatMap (c: c group defs) checks;
    in
    if errors == [ ] then true else builtins.trace (lib.concatStringsSep "\n" errors) false;
  assertValueOneOf =
    name: values: group: attr:
    lib.optional (
      attr ? ${name} && !lib.elem attr.${name} values
    ) "Systemd ${group} field `${name}' cannot have value `${toString attr.${name}}'.";
  checkService = checkUnitConfig "Service" [
    (assertValueOneOf "Type" [
      "exec"
      "simple"
      "forking"
      "oneshot"
      "dbus"
      "notify"
      "notify-reload"
      "idle"
    ])
    (assertValueOneOf "Restart" [
      "no"
      "on-success"
      "on-failure"
      "on-abnormal"
      "on-abort"
      "on-watchdog"
      "always"
    ])
  ];

  unitList = mkOption {
    type = types.listOf unitNameType;
    default = [ ];
  };

  # nixos/lib/systemd-unit-options.nix (sharedOptions, commonUnitOptions,
  # stage2CommonUnitOptions) and systemd-lib.nix's `unitConfig`, which
  # renders the typed options into `[Unit]`
  commonUnit =
    { config, options, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        overrideStrategy = mkOption {
          type = types.enum [
            "asDropinIfExists"
            "asDropin"
          ];
          default = "asDropinIfExists";
        };
        wantedBy = unitList;
        requiredBy = unitList;
        aliases = unitList;
        description = mkOption {
          type = types.singleLineStr;
          default = "";
        };
        documentation = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        requires = unitList;
        wants = unitList;
        upholds = unitList;
        after = unitList;
        before = unitList;
        bindsTo = unitList;
        partOf = unitList;
        conflicts = unitList;
        requisite = unitList;
        onFailure = unitList;
        onSuccess = unitList;
        unitConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
        };
        # no default: rendered only when defined
        startLimitBurst = mkOption { type = types.int; };
        startLimitIntervalSec = mkOption { type = types.int; };
        restartTriggers = mkOption {
          type = types.listOf types.unspecified;
          default = [ ];
        };
        reloadTriggers = mkOption {
          type = types.listOf unitOption;
          default = [ ];
        };
      };
      config.unitConfig =
        lib.optionalAttrs (config.requires != [ ]) { Requires = toString config.requires; }
        // lib.optionalAttrs (config.wants != [ ]) { Wants = toString config.wants; }
        // lib.optionalAttrs (config.upholds != [ ]) { Upholds = toString config.upholds; }
        // lib.optionalAttrs (config.after != [ ]) { After = toString config.after; }
        // lib.optionalAttrs (config.before != [ ]) { Before = toString config.before; }
        // lib.optionalAttrs (config.bindsTo != [ ]) { BindsTo = toString config.bindsTo; }
        // lib.optionalAttrs (config.partOf != [ ]) { PartOf = toString config.partOf; }
        // lib.optionalAttrs (config.conflicts != [ ]) { Conflicts = toString config.conflicts; }
        // lib.optionalAttrs (config.requisite != [ ]) { Requisite = toString config.requisite; }
        // lib.optionalAttrs (config.description != "") { Description = config.description; }
        // lib.optionalAttrs (config.documentation != [ ]) {
          Documentation = toString config.documentation;
        }
        // lib.optionalAttrs (config.onFailure != [ ]) { OnFailure = toString config.onFailure; }
        // lib.optionalAttrs (config.onSuccess != [ ]) { OnSuccess = toString config.onSuccess; }
        // lib.optionalAttrs options.startLimitIntervalSec.isDefined {
          StartLimitIntervalSec = toString config.startLimitIntervalSec;
        }
        // lib.optionalAttrs options.startLimitBurst.isDefined {
          StartLimitBurst = toString config.startLimitBurst;
        };
    };

  # serviceOptions and stage2ServiceOptions (the options a service unit adds)
  serviceUnit = {
    imports = [ commonUnit ];
    options = {
      environment = mkOption {
        type = with types; attrsOf (nullOr (oneOf [ str path package ]));
        default = { };
      };
      path = mkOption {
        type = with types; listOf (oneOf [ package str ]);
        default = [ ];
      };
      serviceConfig = mkOption {
        type = types.addCheck (types.attrsOf unitOption) checkService;
        default = { };
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
      preStart = mkOption {
        type = types.lines;
        default = "";
      };
      postStart = mkOption {
        type = types.lines;
        default = "";
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      reloadIfChanged = mkOption {
        type = types.bool;
        default = false;
      };
      stopIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      startAt = mkOption {
        type = with types; either str (listOf str);
        default = [ ];
      };
    };
  };

  # socketOptions
  socketUnit = {
    imports = [ commonUnit ];
    options = {
      listenStreams = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      listenDatagrams = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      socketConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
    };
  };

  # nixos/modules/system/boot/systemd.nix: timerOptions (`timerConfig`)
  timerUnit = {
    imports = [ commonUnit ];
    options.timerConfig = mkOption {
      type = types.attrsOf unitOption;
      default = { };
    };
  };

  # nixos/modules/services/monitoring/prometheus/default.nix: `mkOpt`, and
  # the scrape config's options (the service discoveries other than static
  # are left out: setting one here is an error, never a silent pass)
  mkOpt =
    type:
    mkOption {
      type = types.nullOr type;
      default = null;
    };
  staticConfig = types.submodule {
    options = {
      targets = mkOption { type = types.listOf types.str; };
      labels = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
    };
  };
  scrapeConfig = types.submodule {
    options = {
      authorization = mkOpt types.attrs;
      job_name = mkOption { type = types.str; };
      scrape_interval = mkOpt types.str;
      scrape_timeout = mkOpt types.str;
      scrape_protocols = mkOpt (types.listOf types.str);
      fallback_scrape_protocol = mkOpt types.str;
      metrics_path = mkOpt types.str;
      honor_labels = mkOpt types.bool;
      honor_timestamps = mkOpt types.bool;
      scheme = mkOpt (
        types.enum [
          "http"
          "https"
        ]
      );
      params = mkOpt (types.attrsOf (types.listOf types.str));
      bearer_token = mkOpt types.str;
      bearer_token_file = mkOpt types.str;
      proxy_url = mkOpt types.str;
      static_configs = mkOpt (types.listOf staticConfig);
      relabel_configs = mkOpt (types.listOf (types.attrsOf types.anything));
      metric_relabel_configs = mkOpt (types.listOf (types.attrsOf types.anything));
      body_size_limit = mkOpt types.str;
      sample_limit = mkOpt types.int;
      label_limit = mkOpt types.int;
      label_name_length_limit = mkOpt types.int;
      label_value_length_limit = mkOpt types.int;
      target_limit = mkOpt types.int;
    };
  };

  # pkgs.formats.json's value type
  jsonValue =
    with types;
    let
      valueType =
        nullOr (oneOf [
          bool
          int
          float
          str
          path
          (attrsOf valueType)
          (listOf valueType)
        ])
        // {
          description = "JSON value";
        };
    in
    valueType;

  enable = mkOption {
    type = types.bool;
    default = false;
  };

  # nixos/modules/services/web-servers/nginx: vhost-options.nix and the
  # locations' options (the ones a proxy uses; any other is an error here)
  nginxLocation = {
      options = {
        proxyPass = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        proxyWebsockets = mkOption {
          type = types.bool;
          default = false;
        };
        return = mkOption {
          type = with types; nullOr (oneOf [ str int ]);
          default = null;
        };
        root = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        alias = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        extraConfig = mkOption {
          type = types.lines;
          default = "";
        };
        priority = mkOption {
          type = types.int;
          default = 1000;
        };
        basicAuthFile = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        recommendedProxySettings = mkOption {
          type = types.bool;
          # config.services.nginx.recommendedProxySettings in NixOS, set below
        };
      };
    };
  nginxListen = types.submodule {
    options = {
      addr = mkOption { type = types.str; };
      port = mkOption {
        type = types.nullOr types.port;
        default = null;
      };
      ssl = mkOption {
        type = types.bool;
        default = false;
      };
      proxyProtocol = mkOption {
        type = types.bool;
        default = false;
      };
      extraParameters = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };
  };
  nginxVhost =
    recommendedProxySettings:
    { name, config, ... }:
    let
      bool = mkOption {
        type = types.bool;
        default = false;
      };
      hasSSL = config.onlySSL || config.addSSL || config.forceSSL;
      acme = config.enableACME || config.useACMEHost != null;
      certName = if config.useACMEHost != null then config.useACMEHost else config.serverName;
    in
    {
      options = {
        serverName = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        serverAliases = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        listen = mkOption {
          type = types.listOf nginxListen;
          default = [ ];
        };
        listenAddresses = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        enableACME = bool;
        useACMEHost = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        acmeRoot = mkOption {
          type = types.nullOr types.str;
          default = "/var/lib/acme/acme-challenge";
        };
        addSSL = bool;
        onlySSL = bool;
        forceSSL = bool;
        rejectSSL = bool;
        kTLS = bool;
        sslCertificate = mkOption { type = types.path; };
        sslCertificateKey = mkOption { type = types.path; };
        sslTrustedCertificate = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        http2 = mkOption {
          type = types.bool;
          default = true;
        };
        http3 = mkOption {
          type = types.bool;
          default = true;
        };
        quic = bool;
        reuseport = bool;
        default = bool;
        root = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        extraConfig = mkOption {
          type = types.lines;
          default = "";
        };
        globalRedirect = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        redirectCode = mkOption {
          type = types.ints.between 300 399;
          default = 301;
        };
        basicAuthFile = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        locations = mkOption {
          type = types.attrsOf (
            types.submodule [
              nginxLocation
              { recommendedProxySettings = lib.mkOptionDefault recommendedProxySettings; }
            ]
          );
          default = { };
        };
        # what nginx's config file reads of the vhost's TLS, as
        # nginx/default.nix computes it: for ACME, the certificate's
        # directory; else the options, which then must be defined
        rendered = mkOption {
          internal = true;
          readOnly = true;
          default = lib.optionalAttrs hasSSL (
            if acme then
              {
                certificate = "/var/lib/acme/${certName}/fullchain.pem";
                key = "/var/lib/acme/${certName}/key.pem";
              }
            else
              {
                certificate = toString config.sslCertificate;
                key = toString config.sslCertificateKey;
              }
          );
        };
      };
      config.serverName = lib.mkDefault name;
    };

  # nixos/modules/services/monitoring/grafana.nix: grafanaTypes.datasourceConfig
  # and grafanaTypes.dashboardConfig
  grafanaDatasource = types.submodule {
    freeformType = jsonValue;
    options = {
      name = mkOption { type = types.str; };
      type = mkOption { type = types.str; };
      access = mkOption {
        type = types.enum [
          "proxy"
          "direct"
        ];
        default = "proxy";
      };
      uid = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      url = mkOption {
        type = types.str;
        default = "localhost";
      };
      editable = mkOption {
        type = types.bool;
        default = false;
      };
      jsonData = mkOption {
        type = types.nullOr types.attrs;
        default = null;
      };
      secureJsonData = mkOption {
        type = types.nullOr types.attrs;
        default = null;
      };
    };
  };
  grafanaDashboardProvider = types.submodule {
    freeformType = jsonValue;
    options = {
      name = mkOption {
        type = types.str;
        default = "default";
      };
      type = mkOption {
        type = types.str;
        default = "file";
      };
      options.path = mkOption { type = types.path; };
    };
  };
in
{
  pkgs = {
    ollama = fakeDrv "ollama" { };
    # nixpkgs' GPU builds, as its services.ollama documents them
    ollama-cuda = fakeDrv "ollama-cuda" { };
    ollama-rocm = fakeDrv "ollama-rocm" { };
    # the assistant's draft pull requests run git
    git = fakeDrv "git" { };
    formats.json = _: {
      type = jsonValue;
      # the document stays readable as `.json` for assertions
      generate = name: value: fakeDrv name { json = builtins.toJSON value; };
    };
    runCommand = name: env: buildCommand: fakeDrv name (env // { inherit buildCommand; });
    writeShellScript = name: text: fakeDrv name { inherit text; };
    # the entries stay readable for assertions
    linkFarm = name: entries: fakeDrv name { inherit entries; };
    stdenv = {
      buildPlatform.canExecute = _: true;
      hostPlatform = { };
    };
  };

  module =
    { config, ... }:
    {
      options = {
        assertions = mkOption {
          type = types.listOf types.unspecified;
          default = [ ];
        };
        warnings = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        environment.systemPackages = mkOption {
          type = types.listOf types.package;
          default = [ ];
        };
        networking.firewall.allowedTCPPorts = mkOption {
          type = types.listOf types.port;
          default = [ ];
        };

        systemd.services = mkOption {
          default = { };
          type = types.attrsOf (types.submodule serviceUnit);
        };

        systemd.sockets = mkOption {
          default = { };
          type = types.attrsOf (types.submodule socketUnit);
        };

        systemd.timers = mkOption {
          default = { };
          type = types.attrsOf (types.submodule timerUnit);
        };

        users.users = mkOption {
          default = { };
          type = types.attrsOf (
            types.submodule {
              options = {
                isSystemUser = mkOption {
                  type = types.bool;
                  default = false;
                };
                group = mkOption {
                  type = types.str;
                  default = "";
                };
                description = mkOption {
                  type = types.passwdEntry types.str;
                  default = "";
                };
              };
            }
          );
        };

        users.groups = mkOption {
          default = { };
          type = types.attrsOf (
            types.submodule {
              options.gid = mkOption {
                type = types.nullOr types.int;
                default = null;
              };
            }
          );
        };

        # nixos/modules/services/misc/ollama.nix
        services.ollama = {
          enable = lib.mkEnableOption "ollama server for local large language models";
          package = mkOption {
            type = types.package;
            default = fakeDrv "ollama" { };
          };
          user = mkOption {
            type = with types; nullOr str;
            default = null;
          };
          group = mkOption {
            type = with types; nullOr str;
            default = config.services.ollama.user;
          };
          home = mkOption {
            type = types.str;
            default = "/var/lib/ollama";
          };
          models = mkOption {
            type = types.str;
            default = "${config.services.ollama.home}/models";
          };
          host = mkOption {
            type = types.str;
            default = "127.0.0.1";
          };
          port = mkOption {
            type = types.port;
            default = 11434;
          };
          acceleration = mkOption {
            type = types.nullOr (
              types.enum [
                false
                "rocm"
                "cuda"
                "vulkan"
              ]
            );
            default = null;
          };
          environmentVariables = mkOption {
            type = types.attrsOf types.str;
            default = { };
          };
          loadModels = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          syncModels = mkOption {
            type = types.bool;
            default = false;
          };
          openFirewall = mkOption {
            type = types.bool;
            default = false;
          };
        };

        # nixos/modules/services/web-servers/nginx/default.nix
        services.nginx = {
          inherit enable;
          recommendedProxySettings = mkOption {
            type = types.bool;
            default = false;
          };
          virtualHosts = mkOption {
            type = types.attrsOf (types.submodule (nginxVhost config.services.nginx.recommendedProxySettings));
            default = {
              localhost = { };
            };
          };
        };

        services.open-webui = {
          inherit enable;
          host = mkOption {
            type = types.str;
            default = "127.0.0.1";
          };
          port = mkOption {
            type = types.port;
            default = 8080;
          };
          environment = mkOption {
            type = types.attrsOf types.str;
            default = {
              SCARF_NO_ANALYTICS = "True";
              DO_NOT_TRACK = "True";
              ANONYMIZED_TELEMETRY = "False";
            };
          };
        };

        services.prometheus = {
          inherit enable;
          scrapeConfigs = mkOption {
            type = types.listOf scrapeConfig;
            default = [ ];
          };
          listenAddress = mkOption {
            type = types.str;
            default = "0.0.0.0";
          };
          port = mkOption {
            type = types.port;
            default = 9090;
          };
          ruleFiles = mkOption {
            type = types.listOf types.path;
            default = [ ];
          };
          rules = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          globalConfig.scrape_interval = mkOpt types.str;
          # nixos/modules/services/monitoring/prometheus/alertmanager.nix
          alertmanager = {
            inherit enable;
            listenAddress = mkOption {
              type = types.str;
              default = "";
            };
            port = mkOption {
              type = types.port;
              default = 9093;
            };
          };
        };

        # nixos/modules/services/monitoring/grafana.nix: `provision`, its
        # data source and dashboard provider types (freeform, with the
        # declared fields typed), and the assertion that `settings` and
        # `path` are not both set
        services.grafana = {
          inherit enable;
          provision = {
            enable = mkOption {
              type = types.bool;
              default = false;
            };
            datasources = mkOption {
              default = { };
              type = types.submodule {
                options.settings = mkOption {
                  default = null;
                  type = types.nullOr (
                    types.submodule {
                      options = {
                        apiVersion = mkOption {
                          type = types.int;
                          default = 1;
                        };
                        datasources = mkOption {
                          type = types.listOf grafanaDatasource;
                          default = [ ];
                        };
                        deleteDatasources = mkOption {
                          type = types.listOf (
                            types.submodule {
                              options.name = mkOption { type = types.str; };
                              options.orgId = mkOption { type = types.int; };
                            }
                          );
                          default = [ ];
                        };
                      };
                    }
                  );
                };
                options.path = mkOption {
                  type = types.nullOr types.path;
                  default = null;
                };
              };
            };
            dashboards = mkOption {
              default = { };
              type = types.submodule {
                options.settings = mkOption {
                  default = null;
                  type = types.nullOr (
                    types.submodule {
                      options.apiVersion = mkOption {
                        type = types.int;
                        default = 1;
                      };
                      options.providers = mkOption {
                        type = types.listOf grafanaDashboardProvider;
                        default = [ ];
                      };
                    }
                  );
                };
                options.path = mkOption {
                  type = types.nullOr types.path;
                  default = null;
                };
              };
            };
          };
        };
      };

      # below the flake's mkDefault, which the flake-outputs check exercises
      config.hwc.ai.package = lib.mkOptionDefault (fakeDrv "hwc-ai" { });

      # grafana.nix's own assertions on provisioning
      config.assertions =
        let
          provision = config.services.grafana.provision;
          nginx = config.services.nginx;
          vhosts = lib.attrValues nginx.virtualHosts;
          hasHttpListener = lib.any (l: !l.proxyProtocol);
        in
        # nginx/default.nix's assertions (under services.nginx.enable); its
        # reading of each TLS vhost's certificate is `rendered`
        lib.optionals nginx.enable [
          {
            assertion = lib.all (host: lib.count lib.id [ host.addSSL host.onlySSL host.forceSSL host.rejectSSL ] <= 1) vhosts;
            message = "Options services.nginx.service.virtualHosts.<name>.addSSL, services.nginx.virtualHosts.<name>.onlySSL, services.nginx.virtualHosts.<name>.forceSSL and services.nginx.virtualHosts.<name>.rejectSSL are mutually exclusive.";
          }
          {
            assertion = lib.all (host: !(host.enableACME && host.useACMEHost != null)) vhosts;
            message = "Options services.nginx.service.virtualHosts.<name>.enableACME and services.nginx.virtualHosts.<name>.useACMEHost are mutually exclusive.";
          }
          {
            assertion = lib.all (
              host: host.enableACME -> (if host.listen != [ ] then hasHttpListener host.listen else true)
            ) vhosts;
            message = "services.nginx.virtualHosts.<name>.enableACME requires a HTTP listener to answer to ACME requests.";
          }
        ]
        ++ [
          {
            assertion = provision.datasources.settings == null || provision.datasources.path == null;
            message = "Cannot set both datasources settings and datasources path";
          }
          {
            assertion = provision.dashboards.settings == null || provision.dashboards.path == null;
            message = "Cannot set both dashboards settings and dashboards path";
          }
        ];
    };
}
