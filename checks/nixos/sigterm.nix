# sigterm: `systemctl stop` sends SIGTERM; each daemon announces
# STOPPING=1, logs its drain, and exits 0 by itself well within
# TimeoutStopSec: no SIGKILL, no death by signal.
# (checks/debian-vm/scenarios/sigterm.sh)
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
      };

      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;

      environment.systemPackages = [ pkgs.curl ];
    };

  testScript = common.testHelpers + ''
    machine.start()

    for daemon in ["hwc-ai-prober", "hwc-ai-puller", "hwc-ai-router"]:
        unit = f"{daemon}.service"

        with subtest(f"{daemon}: systemctl stop drains and exits 0 by itself"):
            machine.wait_for_unit(unit)
            machine.wait_until_succeeds(is_running(unit), timeout=30)
            limit = prop(unit, "TimeoutStopUSec")
            pid = prop(unit, "MainPID")
            # PID 1's debug log shows every sd_notify message a unit sends
            machine.succeed("systemd-analyze log-level debug")
            cursor = journal_cursor()
            started = time.monotonic()
            machine.succeed(f"systemctl stop {unit}")
            took = elapsed(started)
            machine.succeed("systemd-analyze log-level info")
            journal = journal_since(cursor, f"-u {unit} -o cat")

            assert "STOPPING=1" in journal, f"{daemon}: PID 1 received no STOPPING=1:\n{journal}"
            drain = next((line for line in journal.splitlines() if "SIGTERM received" in line), None)
            assert drain is not None, f"{daemon}: no log line about SIGTERM:\n{journal}"
            print(f"{daemon}: {drain}")

            result = prop(unit, "Result")
            code = prop(unit, "ExecMainCode")
            status = prop(unit, "ExecMainStatus")
            # ExecMainCode 1 is CLD_EXITED: it returned from main, not killed by a signal
            assert (result, code, status) == ("success", "1", "0"), (
                f"{daemon}: Result={result} ExecMainCode={code} ExecMainStatus={status},"
                " expected success, 1 (exited), 0"
            )
            killed = [line for line in journal.splitlines() if re.search("SIGKILL|timed out|Killing process", line)]
            assert killed == [], f"{daemon}: systemd had to kill it: {killed}"
            # TimeoutStopSec is the module's 15s
            assert took < 15, f"{daemon}: stop took {took}s, TimeoutStopSec={limit}"
            print(f"{daemon}: stopped in {took}s (TimeoutStopSec={limit})")
            machine.fail(f"kill -0 {pid}")

        with subtest(f"{daemon}: starts again"):
            machine.succeed(f"systemctl start {unit}")
            machine.succeed(is_running(unit))
  '';
}
