# Mistakes in the MCP options the module names at evaluation time, before
# any build: a server with both command and url or neither, a name that
# cannot name a unit, fields of the other kind of server, a secret path
# that is not absolute, an Authorization header, a variable name that
# cannot be a credential or is set twice, a client name that cannot be a
# credential, no way in for any client. And two warnings: a secret in the
# Nix store, a gateway beyond loopback that accepts loopback names only.
{
  config.hwc.ai = {
    enable = true;
    mcp = {
      listenAddress = "::";
      allowUnauthenticatedLoopback = false;
      clientKeys."bad/name" = "/nix/store/0000-key";
      servers = {
        both = {
          command = "/bin/x";
          url = "https://mcp.example.com/mcp";
        };
        neither = { };
        Bad_Name.command = "/bin/x";
        remote-args = {
          url = "https://mcp.example.com/mcp";
          args = [ "--x" ];
          headers.Authorization = "Bearer secret";
        };
        stdio-token = {
          command = "/bin/x";
          bearerTokenFile = "secrets/token";
          environment.TOKEN = "a";
          secretEnvironment = {
            TOKEN = "/run/secrets/token";
            "MY-VAR" = "/run/secrets/v";
          };
        };
      };
    };
  };

  failedAssertions = [
    "hwc.ai.mcp.servers.both: set exactly one of command (a stdio server) or url (a remote one)"
    "hwc.ai.mcp.servers.neither: set exactly one of command"
    "hwc.ai.mcp.servers.Bad_Name: `Bad_Name` cannot name a server"
    "hwc.ai.mcp.servers.remote-args: args, environment and secretEnvironment belong to a stdio server"
    "hwc.ai.mcp.servers.remote-args.headers: an Authorization header"
    "hwc.ai.mcp.servers.stdio-token: headers and bearerTokenFile belong to a remote server"
    "hwc.ai.mcp.servers.stdio-token.bearerTokenFile: `secrets/token` is not an absolute path"
    "hwc.ai.mcp.servers.stdio-token.secretEnvironment: `MY-VAR` is not an environment variable name"
    "hwc.ai.mcp.servers.stdio-token: `TOKEN` is set in both environment and secretEnvironment"
    "hwc.ai.mcp.clientKeys: `bad/name` cannot name a credential"
  ];

  expect =
    { config, lib }:
    [
      {
        what = "warnings: a key in the Nix store, loopback names only beyond loopback";
        got = config.warnings;
        want = [
          "hwc.ai.mcp.clientKeys.bad/name is in the Nix store, which every local user can read"
          "hwc.ai.mcp listens on ::, but allowedHosts holds loopback names only: clients on other hosts are refused on /mcp/<name>; add the names they use"
        ];
      }
    ];
}
