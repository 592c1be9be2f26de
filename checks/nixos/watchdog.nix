# watchdog: a daemon that stops making progress (SIGSTOP) stops its
# WATCHDOG=1 pings; systemd declares the watchdog timeout, kills it and
# starts it again, and the new process serves /health. The prober reports
# a stuck puller's outage and recovery. The scenario is
# checks/scenarios/watchdog.sh, which the Debian VM runs too.
{ lib, ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, ... }:
    {
      imports = [
        (common.scenarios {
          daemons = [
            "hwc-ai-prober"
            "hwc-ai-puller"
          ];
        })
      ];

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        # the puller runs once a model is declared; its /health is one of
        # the prober's default targets
        models = [ "tinyllama" ];
        puller.minFree = 0;
        prober = common.fastProbing;
      };

      # the puller's model comes from the fake, so the puller is up before
      # it is stopped
      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;

      # The module's WatchdogSec is 30s; this test's override shortens it to
      # 3s so the run stays short (the Debian VM uses a runtime drop-in for
      # the same). Every other setting is the module's.
      systemd.services.hwc-ai-prober.serviceConfig.WatchdogSec = lib.mkForce "3s";
      systemd.services.hwc-ai-puller.serviceConfig.WatchdogSec = lib.mkForce "3s";
    };

  testScript = common.testHelpers + ''
    unit = "hwc-ai-prober.service"

    machine.start()
    machine.wait_for_unit(unit)
    machine.wait_for_unit("hwc-ai-puller.service")

    with subtest("the units have a watchdog (3s in this test)"):
        for name in [unit, "hwc-ai-puller.service"]:
            assert prop(name, "WatchdogUSec") == "3s", f"{name}: WatchdogUSec={prop(name, 'WatchdogUSec')}"

    with subtest(
        "SIGSTOP: systemd logs the watchdog timeout, kills the silent process and starts a new one"
        " that serves /health; the prober reports a stuck puller DOWN and UP again"
    ):
        scenario("watchdog")
  '';
}
