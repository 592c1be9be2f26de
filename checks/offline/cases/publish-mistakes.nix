# What publishing refuses at build time, each failure naming the option to
# set: a daemon beyond loopback or published without client keys, no
# serverName, no TLS source or two, a key in the Nix store, a relative
# path, a daemon that does not run, two daemons under one name and port.
{
  config = {
    hwc.ai = {
      enable = true;
      router = {
        listenAddress = "0.0.0.0";
        publish = {
          enable = true;
          tls = {
            acme = true;
            certificateFile = "certs/fullchain.pem";
            keyFile = "/nix/store/00000000000000000000000000000000-key.pem";
          };
        };
      };
      mcp = {
        servers.time.command = "/run/current-system/sw/bin/mcp-server-time";
        listenAddress = "[::]";
        clientKeys.laptop = "/run/secrets/mcp-key-laptop";
        publish = {
          enable = true;
          serverName = "ai.home.example";
          tls.acmeHost = "home.example";
        };
      };
      assistant.publish = {
        enable = true;
        serverName = "ai.home.example";
      };
    };
  };

  failedAssertions = [
    "hwc.ai.router.listenAddress = \"0.0.0.0\" is beyond loopback, where every client needs a key: set hwc.ai.router.clientKeys.<client>"
    "hwc.ai.router.publish.enable: clients on the LAN would need no key; set hwc.ai.router.clientKeys.<client>"
    "hwc.ai.router.publish.serverName must be set"
    "hwc.ai.router.publish.tls: set exactly one of tls.acme, tls.acmeHost, or tls.certificateFile with tls.keyFile (set: tls.acme, tls.certificateFile)"
    "hwc.ai.router.publish.tls.certificateFile: `certs/fullchain.pem` is not an absolute path"
    "hwc.ai.router.publish.tls.keyFile: `/nix/store/00000000000000000000000000000000-key.pem` is in the Nix store"
    "hwc.ai.assistant.publish.enable: hwc-ai-assistant is not enabled (hwc.ai.assistant.enable)"
    "hwc.ai.assistant.publish.tls: set exactly one of tls.acme, tls.acmeHost, or tls.certificateFile with tls.keyFile (set: none)"
    "two daemons are published under one serverName and port (ai.home.example:443, ai.home.example:443)"
  ];

  expect =
    { config, lib }:
    let
      failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
    in
    [
      {
        what = "the gateway, beyond loopback with a key, passes the key check";
        got = lib.any (lib.hasPrefix "hwc.ai.mcp.listenAddress") failed;
        want = false;
      }
    ];
}
