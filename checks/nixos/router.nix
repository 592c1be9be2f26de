# hwc-ai-router in front of Ollama: `hwc.ai.enable` alone runs it, a chat
# completion (whole and streamed) through it reaches Ollama, an alias names
# one of Ollama's models, /health says nothing leaves the host, /metrics
# counts the requests, the prober sees it; and with no cloud provider its
# sandbox cannot reach any address beyond loopback.
# (checks/scenarios/router.sh)
#
# The VM has no network, so "Ollama" is hwc-ai-ollama-fake on Ollama's port
# (it serves the OpenAI endpoints too); the puller pulls the model into it.
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, pkgs, ... }:
    let
      # this machine's own address on the test network: not loopback
      outside = "${config.networking.primaryIPAddress}:8000";
      # the router's unit as the module rendered it (sandbox, IP filter),
      # running curl instead of the router
      curlInRouterSandbox =
        url:
        common.unitCopy config.systemd.services.hwc-ai-router {
          Type = "oneshot";
          Restart = "no";
          ExecStart = "${pkgs.curl}/bin/curl -sS --connect-timeout 3 --max-time 5 -o /dev/null ${url}";
        };
    in
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        models = [ "tinyllama" ];
        puller.minFree = 0;
        prober = common.fastProbing;
        router.aliases.local-fast = "tinyllama";
      };

      systemd.services = {
        ollama = common.ollamaFake config.hwc.ai.package;

        # a server on the non-loopback address, reachable from outside the
        # router's sandbox
        outside-http = {
          description = "An HTTP server on this machine's network address";
          wantedBy = [ "multi-user.target" ];
          serviceConfig = {
            ExecStart = "${pkgs.python3}/bin/python3 -m http.server 8000 --bind ${config.networking.primaryIPAddress} --directory /var/empty";
            DynamicUser = true;
          };
        };

        hwc-check-router-egress = curlInRouterSandbox "http://${outside}/";
        hwc-check-router-loopback = curlInRouterSandbox "http://127.0.0.1:11434/api/version";
      };

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript =
    { nodes, ... }:
    common.testHelpers
    + ''
    router = "http://127.0.0.1:9432"
    outside = "${nodes.machine.networking.primaryIPAddress}:8000"


    def chat(model: str, stream: bool = False) -> str:
        body = json.dumps({
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "hello from the test"}],
        })
        return machine.succeed(
            f"curl -sSf -N --max-time 30 {router}/v1/chat/completions"
            f" -H 'content-type: application/json' -d '{body}'"
        )


    machine.start()

    with subtest("hwc-ai-router reaches active (READY=1, Type=notify), loopback only"):
        machine.wait_for_unit("hwc-ai-router.service")
        assert prop("hwc-ai-router.service", "Type") == "notify", prop("hwc-ai-router.service", "Type")
        machine.succeed(is_running("hwc-ai-router.service"))
        machine.succeed("systemctl show -P IPAddressDeny hwc-ai-router.service | grep -q 0.0.0.0/0")
        machine.succeed("systemctl show -P IPAddressAllow hwc-ai-router.service | grep -q 127.0.0.0/8")
        print(f"StatusText={prop('hwc-ai-router.service', 'StatusText')!r}")

    with subtest("a chat completion through the router reaches Ollama"):
        machine.wait_until_succeeds(
            "curl -sSf http://127.0.0.1:9431/health | jq -e '.status == \"ok\"'",
            timeout=120,
        )
        answer = json.loads(chat("tinyllama"))
        content = answer["choices"][0]["message"]["content"]
        assert content.startswith("echo:"), answer
        assert answer["usage"]["completion_tokens"] > 0, answer

    with subtest("a streamed one arrives as SSE, ending in [DONE]"):
        stream = chat("tinyllama", stream=True)
        assert "chat.completion.chunk" in stream, stream
        assert stream.rstrip().endswith("data: [DONE]"), stream

    with subtest("an alias names one of Ollama's models"):
        answer = json.loads(chat("local-fast"))
        assert answer["choices"][0]["message"]["content"].startswith("echo:"), answer
        models = json.loads(http_get(f"{router}/v1/models"))
        ids = [m["id"] for m in models["data"]]
        assert "local-fast" in ids and "tinyllama:latest" in ids, ids

    with subtest("/health: ok, nothing leaves the host"):
        health = json.loads(http_get(f"{router}/health"))
        assert health["status"] == "ok", health
        assert health["leavesHost"] is False, health

    with subtest("/metrics counts the requests"):
        metrics = machine.succeed(f"curl -sSf {router}/metrics")
        assert 'hwc_ai_router_requests_total{route="*",target="ollama/*",status="200"} 2' in metrics, metrics
        assert 'hwc_ai_router_requests_total{route="local-fast",target="ollama/tinyllama",status="200"} 1' in metrics, metrics
        assert "hwc_ai_build_info" in metrics, metrics

    with subtest("the prober sees the router"):
        machine.wait_until_succeeds(target_is("hwc-ai-router", "up"), timeout=60)

    with subtest("no cloud provider: the router's sandbox reaches loopback only"):
        machine.wait_for_unit("outside-http.service")
        machine.wait_until_succeeds(f"curl -sSf -o /dev/null http://{outside}/", timeout=30)
        machine.succeed("systemctl start hwc-check-router-loopback.service")
        cursor = journal_cursor()
        status, out = machine.execute("systemctl start hwc-check-router-egress.service 2>&1")
        assert status != 0, f"curl in the router's sandbox reached http://{outside}/"
        # curl's 7 (could not connect) or 28 (connect timeout): the IP filter
        # refuses or drops the connection, and the server never sees it
        code = prop("hwc-check-router-egress.service", "ExecMainStatus")
        assert code in ("7", "28"), f"curl exited {code}, expected 7 or 28"
        seen = journal_since(cursor, "-u outside-http.service -o cat")
        assert "GET /" not in seen, f"the server saw a request from the sandbox:\n{seen}"
        print(journal_since(cursor, "-u hwc-check-router-egress.service -o cat"))

    with subtest("the router never restarted"):
        assert prop("hwc-ai-router.service", "NRestarts") == "0", prop("hwc-ai-router.service", "NRestarts")
  '';
}
