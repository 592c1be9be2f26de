# hwc-ai-mcp in front of one stdio server: `hwc.ai.mcp.servers.echo` runs
# the tiny MCP server of checks/debian-vm/guest/mcp-echo-server.py through
# `hwc-ai-mcp wrap`, in a unit of its own behind a socket unit. The socket
# is open to the gateway's group only; a tool call through the gateway
# (OpenAPI and MCP) reaches the server; the server has no network and gets
# its secret as an environment variable, which shows up nowhere else; a
# killed server is started again by the wrapper; SIGTERM stops the gateway
# and the wrapper cleanly, and the next connection starts the wrapper
# again; the prober sees the gateway. The scenario is
# checks/scenarios/mcp.sh, which the Debian VM runs too.
{ ... }:
let
  common = import ./lib/common.nix;

  # A canary, as in credentials.nix: found anywhere but the credential file
  # and the server's own environment, it is a leak. The scenario reads it
  # from CREDENTIAL_DIR under the variable's name, as on the Debian VM.
  canary = "hwc-canary-3b9e1d7c5a20f8e4c6d2b1a9";
  path = "/etc/hwc-ai/credentials/ECHO_TOKEN";
in
{
  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ (common.scenarios { daemons = [ "hwc-ai-mcp" ]; }) ];

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        prober = common.fastProbing;
        mcp = {
          checkInterval = "2s";
          servers.echo = {
            command = "${pkgs.python3}/bin/python3";
            args = [ "${../debian-vm/guest/mcp-echo-server.py}" ];
            secretEnvironment.ECHO_TOKEN = path;
          };
        };
      };

      # The secret, root-owned and 0400 (see credentials.nix: a real
      # deployment keeps it out of the store with sops-nix or agenix).
      environment.etc."hwc-ai/credentials/ECHO_TOKEN" = {
        text = canary;
        mode = "0400";
      };
    };

  testScript = common.testHelpers + ''
    machine.start()
    machine.wait_for_unit("hwc-ai-mcp.service")
    machine.wait_for_unit("hwc-ai-mcp-server-echo.socket")

    with subtest(
        "the socket is the group's only; the server starts on the first connection, READY=1; a tool call"
        " through OpenAPI and /mcp/echo; no network for the server; the secret reaches it only; a killed"
        " server is started again by the wrapper; the prober sees the gateway; SIGTERM exits 0 and the"
        " next connection starts the wrapper again"
    ):
        scenario("mcp")
  '';
}
