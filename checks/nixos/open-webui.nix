# open-webui: `hwc.ai.open-webui.enable` runs nixpkgs' Open WebUI in front
# of the stack: the router (behind a client key) and the assistant as its
# model connections, the MCP server `echo` and the assistant as tool
# servers. The keys reach Open WebUI through the unit's credentials and a
# 0600 environment file, and appear neither in the unit nor in its
# store-side environment; through Open WebUI's own API the router's models
# and `hwc-ai-assistant` are listed, a chat through the router answers,
# and every tool server is listed and verified; the prober sees Open WebUI.
# (The real Open WebUI against the daemons, with tool calls in its chat
# flow and a changed option after a restart: checks/open-webui/run.)
{ ... }:
let
  common = import ./lib/common.nix;

  # A canary, as in credentials.nix: the router's key for Open WebUI.
  canary = "hwc-canary-5d1f0e2a9c7b3e84a6f2d0c1";
  keyPath = "/etc/hwc-ai/credentials/router-key-open-webui";
in
{
  nodes.machine =
    { config, pkgs, ... }:
    {
      virtualisation.memorySize = 3072;

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        models = [ "llama3.2:1b" ];
        puller.minFree = 0;
        prober = common.fastProbing;
        router = {
          clientKeys.open-webui = keyPath;
          # only the key admits: a 200 through Open WebUI proves it sent it
          allowUnauthenticatedLoopback = false;
          # the assistant's key
          clientKeys.local = "/etc/hwc-ai/credentials/router-key-local";
        };
        assistant = {
          enable = true;
          router = {
            model = "llama3.2:1b";
            apiKeyFile = "/etc/hwc-ai/credentials/router-key-local";
          };
        };
        mcp.servers.echo = {
          command = "${pkgs.python3}/bin/python3";
          args = [ "${../debian-vm/guest/mcp-echo-server.py}" ];
        };
        open-webui = {
          enable = true;
          # the test signs in without a password
          environment.WEBUI_AUTH = "False";
        };
      };

      environment.etc."hwc-ai/credentials/router-key-open-webui" = {
        text = canary;
        mode = "0400";
      };
      environment.etc."hwc-ai/credentials/router-key-local" = {
        text = "hwc-local-key-for-the-test";
        mode = "0400";
      };

      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript =
    { ... }:
    common.testHelpers
    + ''
      webui = "http://127.0.0.1:8080"
      canary = "${canary}"


      def api(path: str, token: str, body: dict | None = None) -> dict:
          data = f" -H 'content-type: application/json' -d '{json.dumps(body)}'" if body is not None else ""
          return json.loads(machine.succeed(
              f"curl -sSf --max-time 120 -H 'authorization: Bearer {token}'{data} {webui}{path}"
          ))


      machine.start()

      with subtest("open-webui.service starts after writing its environment file"):
          machine.wait_for_unit("open-webui.service")
          machine.wait_for_open_port(8080, timeout=300)
          machine.wait_until_succeeds(f"curl -sSf --max-time 5 {webui}/health", timeout=120)
          assert machine.succeed("stat -c '%a' /run/open-webui/hwc-ai.env").strip() == "600"

      with subtest("the key is in the environment file only"):
          assert canary in machine.succeed("cat /run/open-webui/hwc-ai.env")
          unit = machine.succeed("systemctl cat open-webui.service")
          assert canary not in unit, "the key is in the unit"
          assert canary not in machine.succeed("systemctl show -P Environment open-webui.service")
          assert "LoadCredential=open-webui-router-key:${keyPath}" in unit, unit

      token = json.loads(machine.succeed(
          f"curl -sSf -H 'content-type: application/json' -d '{{\"email\": \"\", \"password\": \"\"}}'"
          f" {webui}/api/v1/auths/signin"
      ))["token"]

      with subtest("the router's models and hwc-ai-assistant are listed"):
          machine.wait_until_succeeds(
              "curl -sSf --max-time 5 http://127.0.0.1:9431/health | jq -e 'all(.models[]; .state == \"ready\")'",
              timeout=120,
          )
          ids = {m["id"] for m in api("/api/models", token)["data"]}
          assert "llama3.2:1b" in ids and "hwc-ai-assistant" in ids, ids

      with subtest("a chat through the router answers"):
          reply = api("/api/chat/completions", token, {
              "model": "llama3.2:1b", "stream": False,
              "messages": [{"role": "user", "content": "hello"}]})
          assert reply["choices"][0]["message"]["content"], reply

      with subtest("every tool server is listed and verified"):
          tools = {t["id"] for t in api("/api/v1/tools/", token)}
          assert {"server:mcp-echo", "server:hwc-ai-assistant"} <= tools, tools
          for connection in api("/api/v1/configs/tool_servers", token)["TOOL_SERVER_CONNECTIONS"]:
              spec = api("/api/v1/configs/tool_servers/verify", token, connection)
              print(connection["info"]["id"], sorted(spec["paths"]))

      with subtest("the prober sees Open WebUI"):
          machine.wait_until_succeeds(target_is("open-webui", "up"), timeout=60)
    '';
}
