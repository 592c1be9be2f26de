# stack: the daemons work together, and with Ollama (the fake, its own unit
# on Ollama's port). The prober sees the fake and the other daemons up,
# reports the fake down once it stops and up once it is back, and logs
# both; the puller makes its declared model ready in the fake, and again
# after the fake comes back empty (it keeps its models in memory).
# (checks/scenarios/stack.sh)
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, pkgs, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        models = [ "tinyllama" ];
        puller = {
          minFree = 0;
          # The puller compares Ollama's list with the declaration every
          # 15min by default; 2s here, so it finds the model gone from the
          # restarted fake within the test.
          settings.schedule.recheckInterval = "2s";
        };
        prober = common.fastProbing // {
          # the fake below; the puller is a default target
          targets = [
            {
              name = "ollama";
              kind = "ollama";
              url = "http://127.0.0.1:11434";
            }
          ];
        };
      };

      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript = common.testHelpers + ''
    fake = "ollama.service"
    puller_ready = (
        "curl -sS --max-time 5 http://127.0.0.1:9431/health | jq -e"
        " '.status == \"ok\" and (.models | length > 0) and all(.models[]; .state == \"ready\")'"
    )

    machine.start()
    machine.wait_for_unit("hwc-ai-prober.service")
    machine.wait_for_unit("hwc-ai-puller.service")

    with subtest("the prober sees the fake Ollama and the puller up"):
        machine.wait_until_succeeds(target_is("ollama", "up"), timeout=60)
        machine.wait_until_succeeds(target_is("hwc-ai-puller", "up"), timeout=60)
        print(health_of("ollama"))

    with subtest("the puller has its model ready in the fake"):
        machine.wait_until_succeeds(puller_ready, timeout=120)

    with subtest("the fake stops: the prober reports it down"):
        cursor = journal_cursor()
        machine.succeed(f"systemctl stop {fake}")
        stopped = time.monotonic()
        machine.wait_until_succeeds(target_is("ollama", "down"), timeout=30)
        print(f"reported down {elapsed(stopped)}s after the fake stopped: {health_of('ollama')}")

    with subtest("the fake is back, empty: the prober reports it up, the puller makes the model ready again"):
        machine.succeed(f"systemctl start {fake}")
        started = time.monotonic()
        machine.wait_until_succeeds(target_is("ollama", "up"), timeout=30)
        print(f"reported up again {elapsed(started)}s after the fake restarted")
        # in the fake itself, not only in the puller's report: it was pulled again
        machine.wait_until_succeeds(
            "curl -sSf --max-time 5 http://127.0.0.1:11434/api/tags"
            " | jq -e 'any(.models[]; .name == \"tinyllama:latest\")'",
            timeout=120,
        )
        machine.wait_until_succeeds(puller_ready, timeout=120)
        pulls = [
            line
            for line in journal_since(cursor, "-u hwc-ai-puller.service -o cat").splitlines()
            if "pulled tinyllama" in line
        ]
        assert pulls != [], "the puller did not pull tinyllama again"
        print(f"the puller made its model ready again {elapsed(started)}s after the fake came back: {pulls}")

    with subtest("the prober logged both transitions"):
        journal = journal_since(cursor, "-u hwc-ai-prober.service -o cat")
        down = next((line for line in journal.splitlines() if "ollama (ollama) is DOWN" in line), None)
        up = next((line for line in journal.splitlines() if "ollama (ollama) is UP again" in line), None)
        assert down is not None and up is not None, f"the prober did not log both transitions:\n{journal}"
        print(f"prober logged: {down}")
        print(f"prober logged: {up}")
  '';
}
