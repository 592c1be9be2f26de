# sandbox: `systemd-analyze security` scores every daemon's unit at 1.5 or
# lower, the hardening is in force on the running process, this systemd
# knows every directive the units use, and each daemon still does its job
# under it: the prober probes its loopback targets, the puller measures
# Ollama's models directory (statvfs through its read-only bind mount), the
# router answers through Ollama.
# (checks/scenarios/sandbox.sh; `unit-score` scores the prober's
# unit offline, at build time)
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
        puller.minFree = 0;
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
      # Ollama's models directory, which services.ollama would create: the
      # puller's unit binds it read-only to measure its file system
      systemd.tmpfiles.rules = [ "d ${config.hwc.ai.puller.modelsDir} 0755 root root -" ];

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript = common.testHelpers + ''
    threshold = 1.5

    machine.start()

    for daemon in ["hwc-ai-prober", "hwc-ai-puller", "hwc-ai-router"]:
        unit = f"{daemon}.service"
        machine.wait_for_unit(unit)

        with subtest(f"{daemon}: systemd-analyze security scores it at {threshold} or lower"):
            report = machine.succeed(f"systemd-analyze security --no-pager {unit} 2>&1")
            match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", report)
            assert match is not None, f"{daemon}: systemd-analyze security gave no score:\n{report}"
            score = float(match[1])
            assert score <= threshold, f"{daemon}: exposure {score}, above {threshold}:\n{report}"
            print(f"{daemon}: exposure {score}")

        with subtest(f"{daemon}: this systemd knows every directive of the unit"):
            machine.fail(f"journalctl -b -o cat | grep -F '{unit}' | grep -i 'unknown key'")

        with subtest(f"{daemon}: unprivileged, NoNewPrivs, seccomp, no capabilities, read-only /"):
            pid = prop(unit, "MainPID")
            status = dict(
                line.split(":", 1) for line in machine.succeed(f"cat /proc/{pid}/status").splitlines() if ":" in line
            )
            uid = status["Uid"].split()[0]
            assert uid != "0", f"{daemon}: runs as root"
            seen = (status["NoNewPrivs"].strip(), status["Seccomp"].strip(), status["CapEff"].strip())
            assert seen == ("1", "2", "0000000000000000"), (
                f"{daemon}: NoNewPrivs, Seccomp, CapEff = {seen}, expected 1, 2, 0"
            )
            machine.succeed(f"grep -q ' / / ro' /proc/{pid}/mountinfo")
            print(f"{daemon}: uid {uid}, NoNewPrivs=1, Seccomp=2, CapEff=0, / read-only")

    with subtest("hwc-ai-prober probes its loopback targets under the sandbox"):
        for target in ["ollama", "hwc-ai-puller", "hwc-ai-router"]:
            machine.wait_until_succeeds(target_is(target, "up"), timeout=60)

    with subtest("hwc-ai-puller measures the models directory under the sandbox"):
        machine.wait_until_succeeds(
            "curl -sSf --max-time 5 http://127.0.0.1:9431/models | jq -e '.disk.freeBytes > 0'",
            timeout=60,
        )
        print(json.loads(http_get("http://127.0.0.1:9431/models"))["disk"])

    with subtest("hwc-ai-router answers through Ollama under the sandbox"):
        machine.wait_until_succeeds(
            "curl -sSf --max-time 5 http://127.0.0.1:9431/health | jq -e '.status == \"ok\"'",
            timeout=120,
        )
        answer = machine.succeed(
            "curl -sSf --max-time 30 http://127.0.0.1:9432/v1/chat/completions -H 'content-type: application/json'"
            " -d '{\"model\": \"tinyllama\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}'"
        )
        assert json.loads(answer)["choices"][0]["message"]["content"].startswith("echo:"), answer
  '';
}
