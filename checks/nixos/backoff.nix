# backoff: a daemon that always fails (a broken config) is restarted with a
# delay, not in a tight loop; the delay grows (RestartSteps=,
# RestartMaxDelaySec=) and stays bounded; and it keeps being retried: the
# start rate limit (5 starts in 10s by default) does not end the retries,
# because the units set StartLimitIntervalSec=0.
# (checks/debian-vm/scenarios/backoff.sh)
#
# The daemon is a copy of the prober's unit as the module rendered it (its
# Restart=, RestartSec=, RestartSteps=, RestartMaxDelaySec= and start limit),
# running checks/debian-vm/config/broken/hwc-ai-prober.json unchecked: the
# module would reject that config at build time.
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
      };

      systemd.services.hwc-check-failing-prober = common.unitCopy config.systemd.services.hwc-ai-prober {
        ExecStart = "${config.hwc.ai.package}/bin/hwc-ai-prober --config ${../debian-vm/config/broken/hwc-ai-prober.json}";
      };
    };

  testScript = common.testHelpers + ''
    unit = "hwc-check-failing-prober.service"
    # the default start limit, which the units must not be subject to
    default_burst = 5

    machine.start()
    machine.wait_for_unit("hwc-ai-prober.service")

    with subtest("the unit's restart settings: on-failure, 1s growing to 1min, no start limit"):
        settings = {
            name: prop(unit, name)
            for name in ["Restart", "RestartUSec", "RestartSteps", "RestartMaxDelayUSec", "StartLimitIntervalUSec"]
        }
        print(settings)
        assert settings["Restart"] == "on-failure", settings
        assert settings["RestartUSec"] == "1s", settings
        assert settings["RestartSteps"] == "10", settings
        assert settings["RestartMaxDelayUSec"] == "1min", settings
        assert settings["StartLimitIntervalUSec"] == "0", settings

    with subtest(f"it keeps being retried, past {default_burst} starts"):
        cursor = journal_cursor()
        machine.succeed(f"systemctl start --no-block {unit}")
        # delays of 1s growing by 60^(1/10) per restart: the 6th restart is
        # about 21s in
        machine.wait_until_succeeds(
            f"[ \"$(systemctl show -P NRestarts {unit})\" -gt {default_burst} ]",
            timeout=180,
        )
        journal = journal_since(cursor, f"-u {unit} -o cat")
        assert "Start request repeated too quickly" not in journal, f"the start limit ended the retries:\n{journal}"
        state = f"{prop(unit, 'ActiveState')}/{prop(unit, 'SubState')}"
        assert state != "failed/failed", f"gave up: {state}\n{journal}"
        print(f"NRestarts={prop(unit, 'NRestarts')}, now {state}")

    with subtest("never a tight loop: every delay at least RestartSec, growing, within RestartMaxDelaySec"):
        # each start fails at once, logging the bad field: the time between
        # two of these lines is one restart delay plus one start
        failures = monotonic_times(
            "\n".join(
                line
                for line in journal_since(cursor, f"-u {unit} -o short-monotonic").splitlines()
                if "invalid config" in line
            )
        )
        gaps = [round(b - a, 2) for a, b in zip(failures, failures[1:])]
        print(f"{len(failures)} failed starts; delays between them: {gaps}")
        assert len(gaps) >= default_burst - 1, f"too few failed starts seen: {failures}"
        # 10% slack for the timestamps
        assert min(gaps) >= 0.9, f"retried after {min(gaps)}s, below RestartSec=1s: {gaps}"
        assert gaps[-1] > gaps[0] * 1.5, f"the delay does not grow: {gaps}"
        assert max(gaps) <= 61 + 5, f"a delay exceeds RestartMaxDelaySec=1min: {gaps}"

    with subtest("stopping it ends the retries; the module's prober was never touched"):
        machine.succeed(f"systemctl stop {unit}")
        machine.succeed(f"systemctl reset-failed {unit} || true")
        assert prop(unit, "ActiveState") in ("inactive", "failed"), prop(unit, "ActiveState")
        machine.succeed(is_running("hwc-ai-prober.service"))
        assert prop("hwc-ai-prober.service", "NRestarts") == "0"
  '';
}
