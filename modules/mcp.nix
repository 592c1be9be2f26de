# hwc-ai-mcp: one MCP gateway in front of the declared MCP servers, with
# tool policies, health checks and an OpenAPI view for Open WebUI
# (docs/mcp.md).
#
# `hwc.ai.mcp.servers.<name>` declares each server: a stdio one (`command`)
# runs in a sandboxed unit of its own, `hwc-ai-mcp wrap` behind a socket
# unit; a remote one (`url`) is reached by the gateway. The typed options
# feed `hwc.ai.mcp.settings` through `mkDefault`, so any field of the
# gateway's document can be overridden there. Every document is checked by
# `hwc-ai-mcp --check-config` (`hwc-ai-mcp wrap --check-config` for the
# wrappers') at build time.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.mcp;
  pkg = config.hwc.ai.package;
  net = import ./lib/net.nix;
  mcp = import ./lib/mcp.nix;
  daemon = (import ./lib/daemons.nix).mcp;

  settingsLib = import ./settings.nix { inherit lib pkgs; };
  inherit (settingsLib) defaultsDeep field defaultedField;

  serverType = types.submodule {
    options = {
      command = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = lib.literalExpression ''"''${pkgs.mcp-server-time}/bin/mcp-server-time"'';
        description = ''
          A stdio server: the program, run by `hwc-ai-mcp wrap` in the unit
          `hwc-ai-mcp-server-<name>.service`. Set this or `url`.
        '';
      };
      args = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [
          "--local-timezone"
          "Europe/Oslo"
        ];
        description = "Its arguments.";
      };
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
        example = {
          PATH = "/run/current-system/sw/bin";
        };
        description = ''
          Its environment, besides the unit's (`HOME` is the unit's cache
          directory). Never secrets: use `secretEnvironment`.
        '';
      };
      secretEnvironment = mkOption {
        type = types.attrsOf types.str;
        default = { };
        example = {
          GITHUB_PERSONAL_ACCESS_TOKEN = "/run/secrets/github-token";
        };
        description = ''
          Environment variables whose values are secrets: variable ->
          absolute path of a file on the host holding the value, loaded
          with `LoadCredential=<VAR>:<path>` by the server's unit. Strings,
          not Nix paths, so no secret is copied to the store.
        '';
      };
      initializeTimeout = field types.str ''
        How long the server may take to answer `initialize` before it is
        started again (`30s`); more for `npx` or `uvx` servers that download
        on their first start.
      '';

      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://mcp.example.com/mcp";
        description = "A remote server: its MCP endpoint. Set this or `command`.";
      };
      transport = mkOption {
        type = types.enum [
          "streamable-http"
          "sse"
        ];
        default = "streamable-http";
        description = "The remote server's transport: streamable HTTP, or the legacy HTTP+SSE (2024-11-05).";
      };
      headers = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Extra request headers to the remote server. Never secrets: use `bearerTokenFile`.";
      };
      bearerTokenFile = field types.str ''
        Absolute path of a file on the host holding the remote server's
        bearer token, loaded with `LoadCredential=mcp-token-<name>:<path>`
        by the gateway's unit, never copied to the Nix store.
      '';

      tools = {
        allow = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "get_*" ];
          description = "Only the tools matching one of these globs (`*`); empty: every tool.";
        };
        deny = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "delete_*" ];
          description = "Never the tools matching one of these globs; deny wins over allow.";
        };
      };
      readOnly = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Hide every tool that does not declare itself harmless: a tool is
          shown only with `readOnlyHint: true` or `destructiveHint: false`.
        '';
      };

      sandbox = {
        network = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Give the stdio server the host's network. Off, it has a loopback
            of its own and nothing else (`PrivateNetwork=true`); servers that
            fetch pages or call APIs, and `npx`/`uvx` downloads, need it.
          '';
        };
        readOnlyPaths = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "/home/alice/notes" ];
          description = ''
            Paths the server may read, bound into its view
            (`BindReadOnlyPaths=`, `source:dest` allowed): the way to hand
            it a directory under `/home`, which it cannot see otherwise. The
            server runs as a dynamic user: the files must be readable by
            others.
          '';
        };
        readWritePaths = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "/srv/scratch" ];
          description = ''
            Paths the server may write (`BindPaths=`); everything else is
            read-only or hidden. The server runs as a dynamic user: the
            files must be writable by others (or by an ACL).
          '';
        };
        memoryMax = mkOption {
          type = types.str;
          default = "512M";
          description = "`MemoryMax=` of the server's unit: the wrapper, the server and its children.";
        };
        cpuQuota = mkOption {
          type = types.str;
          default = "100%";
          description = "`CPUQuota=` of the server's unit (`100%`: one CPU).";
        };
        tasksMax = mkOption {
          type = types.ints.positive;
          default = 256;
          description = "`TasksMax=` of the server's unit: threads and processes of the wrapper, the server and its children.";
        };
        openFiles = mkOption {
          type = types.ints.positive;
          default = 4096;
          description = "`LimitNOFILE=` of the server's unit: open files and sockets of each of its processes.";
        };
      };
    };
  };

  listen = net.hostPort cfg.listenAddress cfg.port;

  stdio = mcp.stdioServers cfg.servers;

  document = mcp.document {
    inherit listen;
    inherit (cfg)
      servers
      clientKeys
      allowUnauthenticatedLoopback
      allowedOrigins
      allowedHosts
      checkInterval
      ;
  };

  credentials = mcp.credentials { inherit (cfg) servers clientKeys; };

  checkedConfig = settingsLib.checked {
    daemon = "hwc-ai-mcp";
    package = pkg;
    inherit (cfg) settings;
  };

  # One wrapper document per stdio server, checked like the gateway's; they
  # log as the gateway does.
  wrapConfig =
    name: s:
    settingsLib.checked {
      daemon = mcp.serverUnit name;
      command = "hwc-ai-mcp wrap";
      package = pkg;
      settings = mcp.wrapDocument name (
        s // lib.optionalAttrs (cfg.settings ? log) { inherit (cfg.settings) log; }
      );
    };

  # every secret path: "option = path"
  secretPaths =
    lib.mapAttrs' (name: path: lib.nameValuePair "hwc.ai.mcp.clientKeys.${name}" path) cfg.clientKeys
    // lib.concatMapAttrs (
      name: s:
      lib.mapAttrs' (
        var: path: lib.nameValuePair "hwc.ai.mcp.servers.${name}.secretEnvironment.${var}" path
      ) s.secretEnvironment
      // lib.optionalAttrs (s.bearerTokenFile != null) {
        "hwc.ai.mcp.servers.${name}.bearerTokenFile" = s.bearerTokenFile;
      }
    ) cfg.servers;

  serverAssertions =
    name: s:
    let
      at = "hwc.ai.mcp.servers.${name}";
    in
    [
      {
        assertion = (s.command == null) != (s.url == null);
        message = "${at}: set exactly one of command (a stdio server) or url (a remote one)";
      }
      {
        assertion = mcp.isServerName name;
        message = "${at}: `${name}` cannot name a server (it names a unit, a socket and /mcp/<name>); use a-z 0-9 - _, starting with a letter or digit";
      }
      {
        assertion = s.url == null || (s.args == [ ] && s.environment == { } && s.secretEnvironment == { });
        message = "${at}: args, environment and secretEnvironment belong to a stdio server (command)";
      }
      {
        assertion = s.command == null || (s.headers == { } && s.bearerTokenFile == null);
        message = "${at}: headers and bearerTokenFile belong to a remote server (url)";
      }
      {
        assertion = !(lib.any (header: lib.toLower header == "authorization") (lib.attrNames s.headers));
        message = "${at}.headers: an Authorization header would put a secret in the Nix store; use bearerTokenFile";
      }
    ]
    ++ map (var: {
      assertion = mcp.isVariableName var;
      message = "${at}.secretEnvironment: `${var}` is not an environment variable name (A-Z a-z 0-9 _)";
    }) (lib.attrNames s.secretEnvironment)
    ++ map (var: {
      assertion = !(s.environment ? ${var});
      message = "${at}: `${var}` is set in both environment and secretEnvironment; set it in one";
    }) (lib.attrNames s.secretEnvironment);

  loopbackNames = [
    "localhost"
    "127.0.0.1"
    "::1"
  ];
in
{
  options.hwc.ai.mcp = {
    enable = mkOption {
      type = types.bool;
      # nothing declared, nothing to serve: no daemon
      default = config.hwc.ai.enable && cfg.servers != { };
      defaultText = lib.literalExpression "config.hwc.ai.enable && config.hwc.ai.mcp.servers != { }";
      description = "Whether to run hwc-ai-mcp, the MCP gateway in front of `servers`.";
    };

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "::";
      description = ''
        Address of the gateway's `/mcp/<name>`, `/openapi/...`, `/servers`,
        `/metrics` and `/health`. Beyond loopback, clients need a key
        (`clientKeys`), and `allowedHosts` the names they use.
      '';
    };

    port = mkOption {
      type = types.port;
      default = daemon.port;
      description = "Their port.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open `port` in the firewall (clients on other hosts).";
    };

    servers = mkOption {
      type = types.attrsOf serverType;
      default = { };
      example = lib.literalExpression ''
        {
          time = {
            command = "''${pkgs.mcp-server-time}/bin/mcp-server-time";
            args = [ "--local-timezone" "Europe/Oslo" ];
          };
          notes = {
            command = "''${pkgs.nodejs}/bin/npx";
            args = [ "-y" "@modelcontextprotocol/server-filesystem" "/home/alice/notes" ];
            environment.PATH = "''${pkgs.nodejs}/bin";
            sandbox = { network = true; readOnlyPaths = [ "/home/alice/notes" ]; };
            readOnly = true;
          };
          docs = {
            url = "https://mcp.example.com/mcp";
            bearerTokenFile = "/run/secrets/mcp-docs-token";
            tools.deny = [ "delete_*" ];
          };
        }
      '';
      description = ''
        The MCP servers behind the gateway, each at `/mcp/<name>` and
        `/openapi/<name>`. The name is also the unit's:
        `hwc-ai-mcp-server-<name>.service` for a stdio server.
      '';
    };

    clientKeys = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        open-webui = "/run/secrets/mcp-key-open-webui";
      };
      description = ''
        Client keys: client name -> absolute path of a file on the host
        holding its bearer key (`LoadCredential=mcp-key-<name>:<path>`).
        The name is what the gateway's logs show.
      '';
    };

    allowUnauthenticatedLoopback = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Requests from this host need no key. Turn it off when the tools
        reach what local users should not (then set `clientKeys`).
      '';
    };

    allowedOrigins = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "http://localhost:8080" ];
      description = ''
        Browser origins that may call the gateway (CORS); a request with
        any other `Origin` is refused. Open WebUI's own origin, when its
        browser side calls the tool servers directly.
      '';
    };

    allowedHosts = mkOption {
      type = types.listOf types.str;
      default = loopbackNames;
      example = [
        "localhost"
        "127.0.0.1"
        "::1"
        "homelab.lan"
      ];
      description = ''
        `Host` header values accepted on `/mcp/<name>`, a guard against DNS
        rebinding; `[ ]` accepts any. Add the names clients on other hosts
        use when listening beyond loopback.
      '';
    };

    checkInterval = defaultedField types.str "`30s`" "Time between two health checks (initialize, tools/list) of one server.";

    serverConfigFiles = mkOption {
      type = types.attrsOf types.path;
      readOnly = true;
      default = lib.mapAttrs wrapConfig stdio;
      defaultText = lib.literalMD "each stdio server's wrapper document, checked by `hwc-ai-mcp wrap --check-config`";
      description = "The stdio servers' wrapper config files, as their units use them: server name -> file.";
    };
  }
  // settingsLib.documentOptions {
    name = "mcp";
    daemon = "hwc-ai-mcp";
    configFile = checkedConfig;
    example = {
      log.level = "debug";
      callTimeout = "120s";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      lib.concatLists (lib.mapAttrsToList serverAssertions cfg.servers)
      ++ lib.mapAttrsToList (option: path: {
        assertion = lib.hasPrefix "/" path;
        message = "${option}: `${path}` is not an absolute path";
      }) secretPaths
      ++ map (name: {
        assertion = mcp.isCredentialName name;
        message = "hwc.ai.mcp.clientKeys: `${name}` cannot name a credential; use A-Z a-z 0-9 _ . -";
      }) (lib.attrNames cfg.clientKeys)
      ++ [
        {
          assertion = cfg.allowUnauthenticatedLoopback || cfg.clientKeys != { };
          message = "hwc.ai.mcp: allowUnauthenticatedLoopback = false and no clientKeys: no client could call the gateway";
        }
      ];

    warnings =
      lib.mapAttrsToList (option: _: "${option} is in the Nix store, which every local user can read") (
        lib.filterAttrs (_: path: lib.hasPrefix "/nix/store/" path) secretPaths
      )
      ++ lib.optional (
        !net.isLoopback (net.hostOf listen)
        && cfg.allowedHosts != [ ]
        && lib.all (host: lib.elem host loopbackNames) cfg.allowedHosts
      ) "hwc.ai.mcp listens on ${cfg.listenAddress}, but allowedHosts holds loopback names only: clients on other hosts are refused on /mcp/<name>; add the names they use";

    hwc.ai.mcp.settings = defaultsDeep document;

    # probed by hwc-ai-prober and scraped by Prometheus; the wrappers are
    # seen through the gateway (/servers, hwc_ai_mcp_server_up)
    hwc.ai.internal.daemons.hwc-ai-mcp = {
      inherit (cfg.settings) listen;
    };

    systemd.services = {
      hwc-ai-mcp = mcp.unit {
        binDir = "${pkg}/bin";
        inherit (cfg) configFile settings limits;
        inherit credentials;
        sockets = lib.attrNames stdio;
      };
    }
    // lib.mapAttrs' (
      name: s:
      lib.nameValuePair (mcp.serverUnit name) (
        mcp.serverService {
          binDir = "${pkg}/bin";
          inherit name;
          configFile = cfg.serverConfigFiles.${name};
          credentials = s.secretEnvironment;
          inherit (s) sandbox;
        }
      )
    ) stdio;

    systemd.sockets = lib.mapAttrs' (
      name: _: lib.nameValuePair (mcp.serverUnit name) (mcp.serverSocket { inherit name; })
    ) stdio;

    # the key to the wrappers' sockets
    users.groups = lib.mkIf (stdio != { }) { ${mcp.group} = { }; };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];
  };
}
