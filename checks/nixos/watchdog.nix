# watchdog: a daemon that stops making progress (SIGSTOP) stops its
# WATCHDOG=1 pings; systemd declares the watchdog timeout, kills it and
# starts it again, and the new process serves /health. The prober reports
# a stuck puller's outage and recovery.
# (checks/debian-vm/scenarios/watchdog.sh)
{ lib, ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { pkgs, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        # the puller runs once a model is declared; it waits for the absent
        # Ollama, and its /health is one of the prober's default targets
        models = [ "tinyllama" ];
        puller.minFree = 0;
        prober = common.fastProbing;
      };

      # The module's WatchdogSec is 30s; this test's override shortens it to
      # 3s so the run stays short (the Debian scenario uses a runtime drop-in
      # for the same). Every other setting is the module's.
      systemd.services.hwc-ai-prober.serviceConfig.WatchdogSec = lib.mkForce "3s";
      systemd.services.hwc-ai-puller.serviceConfig.WatchdogSec = lib.mkForce "3s";

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript = common.testHelpers + ''
    unit = "hwc-ai-prober.service"

    machine.start()
    machine.wait_for_unit(unit)

    with subtest("the unit has a watchdog (3s in this test)"):
        assert prop(unit, "WatchdogUSec") == "3s", prop(unit, "WatchdogUSec")
        print(f"RestartSec={prop(unit, 'RestartUSec')}")

    with subtest("SIGSTOP: systemd kills the silent process and starts a new one"):
        machine.wait_until_succeeds(is_running(unit), timeout=30)
        restarts = int(prop(unit, "NRestarts"))
        pid = prop(unit, "MainPID")
        cursor = journal_cursor()
        machine.succeed(f"kill -STOP {pid}")
        stopped = time.monotonic()
        machine.wait_until_succeeds(
            f"[ \"$(systemctl show -P MainPID {unit})\" != {pid} ]"
            f" && [ \"$(systemctl show -P NRestarts {unit})\" -gt {restarts} ]"
            f" && {is_running(unit)}",
            timeout=90,
        )
        print(
            f"main PID {pid} -> {prop(unit, 'MainPID')}, NRestarts {restarts} -> {prop(unit, 'NRestarts')},"
            f" active/running {elapsed(stopped)}s after SIGSTOP"
        )

    with subtest("the journal shows the watchdog timeout"):
        journal = journal_since(cursor, f"-u {unit} -o cat")
        assert "Watchdog timeout" in journal, f"no 'Watchdog timeout' in the journal:\n{journal}"

    with subtest("the stopped process is gone, and the new one serves /health"):
        machine.fail(f"kill -0 {pid}")
        code = http_status("http://127.0.0.1:9430/health")
        assert code != "000", "the new process does not serve /health"
  '';
}
