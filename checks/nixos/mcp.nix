# hwc-ai-mcp in front of one stdio server: `hwc.ai.mcp.servers.echo` runs
# the tiny MCP server of checks/debian-vm/guest/mcp-echo-server.py through
# `hwc-ai-mcp wrap`, in a unit of its own behind a socket unit. The socket
# is open to the gateway's group only; a tool call through the gateway
# (OpenAPI and MCP) reaches the server; the server has no network and gets
# its secret as an environment variable, which shows up nowhere else; a
# killed server is started again by the wrapper; SIGTERM stops the gateway
# and the wrapper cleanly, and the next connection starts the wrapper
# again; the prober sees the gateway. (checks/scenarios/mcp.sh)
{ ... }:
let
  common = import ./lib/common.nix;

  # A canary, as in credentials.nix: found anywhere but the credential file
  # and the server's own environment, it is a leak.
  canary = "hwc-canary-3b9e1d7c5a20f8e4c6d2b1a9";
  path = "/etc/hwc-ai/credentials/echo-token";
in
{
  nodes.machine =
    { pkgs, ... }:
    {
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
      environment.etc."hwc-ai/credentials/echo-token" = {
        text = canary;
        mode = "0400";
      };

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
        pkgs.util-linux
      ];
    };

  testScript =
    { ... }:
    common.testHelpers
    + ''
      gateway = "hwc-ai-mcp.service"
      server = "hwc-ai-mcp-server-echo.service"
      socket = "hwc-ai-mcp-server-echo.socket"
      sock = "/run/hwc-ai-mcp/echo.sock"
      mcp = "http://127.0.0.1:9433"
      canary = "${canary}"


      def status() -> dict:
          """The wrapper's own /status, over its socket."""
          return json.loads(machine.succeed(
              f"curl -fsS --max-time 5 --unix-socket {sock} http://localhost/status"
          ))


      def entry() -> dict:
          """The gateway's view of the server."""
          return json.loads(http_get(f"{mcp}/servers/echo"))


      def call_echo(text: str) -> str:
          body = json.dumps({"text": text})
          return machine.succeed(
              f"curl -fsS --max-time 10 -H 'content-type: application/json'"
              f" -d '{body}' {mcp}/openapi/echo/echo"
          )


      def rpc(message: dict, session: str = "") -> tuple[str, dict | None]:
          """One JSON-RPC message to /mcp/echo (streamable HTTP): the
          session id and the answer, whether sent as JSON or as SSE."""
          headers = "-H 'content-type: application/json' -H 'accept: application/json, text/event-stream'"
          if session:
              headers += f" -H 'mcp-session-id: {session}' -H 'mcp-protocol-version: 2025-06-18'"
          out = machine.succeed(
              f"curl -sS -i --max-time 10 {headers} -d '{json.dumps(message)}' {mcp}/mcp/echo"
          ).replace("\r", "")
          head, _, body = out.partition("\n\n")
          found = re.search(r"^mcp-session-id: (\S+)$", head, re.I | re.M)
          answers = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
          answers = [a for a in answers if a] or ([body.strip()] if body.strip() else [])
          return (found[1] if found else session), (json.loads(answers[-1]) if answers else None)


      machine.start()

      with subtest("the gateway, the socket and the server's unit, as the module renders them"):
          machine.wait_for_unit(gateway)
          machine.wait_for_unit(socket)
          assert prop(gateway, "Type") == "notify", prop(gateway, "Type")
          assert prop(gateway, "SupplementaryGroups") == "hwc-ai-mcp-sockets", prop(gateway, "SupplementaryGroups")
          machine.succeed("systemctl show -P IPAddressDeny hwc-ai-mcp.service | grep -q 0.0.0.0/0")
          assert machine.succeed(f"stat -c '%A %U %G' {sock}").strip() == "srw-rw---- root hwc-ai-mcp-sockets"
          assert prop(server, "Type") == "notify", prop(server, "Type")
          assert prop(server, "TriggeredBy") == socket, prop(server, "TriggeredBy")
          assert machine.succeed(f"systemctl is-enabled {server} || true").strip() == "static"
          assert prop(server, "PrivateNetwork") == "yes", prop(server, "PrivateNetwork")

      with subtest("the socket is open to the group only"):
          gid = machine.succeed("getent group hwc-ai-mcp-sockets | cut -d: -f3").strip()
          probe = f"curl -sS --max-time 5 -o /dev/null --unix-socket {sock} http://localhost/status"
          machine.fail(f"setpriv --reuid=nobody --regid=nogroup --clear-groups {probe}")
          machine.succeed(f"setpriv --reuid=nobody --regid=nogroup --groups={gid} {probe}")
          pid = prop(gateway, "MainPID")
          groups = machine.succeed(f"awk '/^Groups:/' /proc/{pid}/status").split()[1:]
          assert gid in groups, f"the gateway's groups {groups} lack {gid}"

      with subtest("started by the gateway's first connection, the server answers through it"):
          machine.wait_until_succeeds(is_running(server), timeout=60)
          machine.wait_until_succeeds(
              f"curl -fsS {mcp}/servers/echo | jq -e '.state == \"up\" and [.tools[].name] == [\"echo\"]'",
              timeout=60,
          )
          assert json.loads(call_echo("hello through the socket")) == "hello through the socket"
          session, answer = rpc({
              "jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "nixos-test", "version": "1"}},
          })
          assert session, "no Mcp-Session-Id"
          assert answer is not None, "no answer to initialize"
          assert answer["result"]["serverInfo"]["name"] == "hwc-check-echo", answer
          rpc({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
          _, answer = rpc({
              "jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "echo", "arguments": {"text": "through /mcp/echo"}},
          }, session)
          assert answer is not None, "no answer to tools/call"
          assert answer["result"]["content"] == [{"type": "text", "text": "through /mcp/echo"}], answer

      with subtest("the server has no network; the gateway has the host's"):
          child = status()["pid"]
          host_net = machine.succeed("readlink /proc/1/ns/net").strip()
          assert machine.succeed(f"readlink /proc/{child}/ns/net").strip() != host_net
          interfaces = machine.succeed(f"awk 'NR > 2 {{ sub(\":\", \"\", $1); print $1 }}' /proc/{child}/net/dev").split()
          assert interfaces == ["lo"], interfaces
          assert machine.succeed(f"readlink /proc/{prop(gateway, 'MainPID')}/ns/net").strip() == host_net

      with subtest("the secret reaches the server as ECHO_TOKEN, and nothing else"):
          machine.wait_until_succeeds(
              f"journalctl -b -u {server} -o cat | grep -q 'ECHO_TOKEN is set ({len(canary)} characters)'",
              timeout=30,
          )
          found = re.search(r"--config (\S+)", prop(server, "ExecStart"))
          assert found, prop(server, "ExecStart")
          config = found[1]
          for where, text in [
              ("the journal", machine.succeed("journalctl -b -o cat")),
              ("the wrapper's config", machine.succeed(f"cat {config}")),
              ("the gateway's /servers", http_get(f"{mcp}/servers")),
              ("the wrapper's command line", machine.succeed(f"tr '\\0' ' ' </proc/{prop(server, 'MainPID')}/cmdline")),
          ]:
              assert canary not in text, f"the token is in {where}"

      with subtest("a killed server is started again by the wrapper, not by systemd"):
          before = status()
          wrapper = prop(server, "MainPID")
          machine.succeed(f"kill -KILL {before['pid']}")
          machine.wait_until_succeeds(
              f"curl -fsS --unix-socket {sock} http://localhost/status"
              f" | jq -e '.restarts > {before['restarts']} and .state == \"up\" and .pid != {before['pid']}'",
              timeout=30,
          )
          assert prop(server, "MainPID") == wrapper and prop(server, "NRestarts") == "0"
          machine.wait_until_succeeds(
              f"curl -fsS {mcp}/metrics | grep -E '^hwc_ai_mcp_server_restarts_total[{{]server=\"echo\"[}}] [1-9]'",
              timeout=30,
          )
          assert json.loads(call_echo("after the restart")) == "after the restart"

      with subtest("the prober sees the gateway"):
          machine.wait_until_succeeds(target_is("hwc-ai-mcp", "up"), timeout=60)

      with subtest("SIGTERM: the gateway, then the wrapper, exit 0 by themselves"):
          for unit in (gateway, server):
              pid = prop(unit, "MainPID")
              cursor = journal_cursor()
              machine.succeed(f"systemctl stop {unit}")
              assert (prop(unit, "Result"), prop(unit, "ExecMainCode"), prop(unit, "ExecMainStatus")) == ("success", "1", "0"), (
                  prop(unit, "Result"), prop(unit, "ExecMainCode"), prop(unit, "ExecMainStatus"))
              # not `log`: the driver's logger has that name
              journal = journal_since(cursor, f"-u {unit} -o cat")
              assert "timed out" not in journal and "SIGKILL" not in journal, journal
              machine.fail(f"kill -0 {pid}")
          assert prop(socket, "SubState") == "listening", prop(socket, "SubState")

      with subtest("socket activation: the next connection starts the wrapper again"):
          assert status()["state"] in ("starting", "up")
          machine.succeed(is_running(server))
          machine.succeed(f"systemctl start {gateway}")
          machine.wait_until_succeeds(f"curl -fsS {mcp}/servers/echo | jq -e '.state == \"up\"'", timeout=60)
    '';
}
