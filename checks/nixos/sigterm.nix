# sigterm: `systemctl stop` sends SIGTERM; each daemon announces
# STOPPING=1, logs its drain, and exits 0 by itself well within
# TimeoutStopSec: no SIGKILL, no death by signal; it starts again. The
# scenario is checks/scenarios/sigterm.sh, which the Debian VM runs too.
{ ... }:
let
  common = import ./lib/common.nix;
  daemons = [
    "hwc-ai-prober"
    "hwc-ai-puller"
    "hwc-ai-router"
  ];
in
{
  nodes.machine =
    { config, ... }:
    {
      imports = [ (common.scenarios { inherit daemons; }) ];

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        models = [ "tinyllama" ];
        puller.minFree = 0;
      };

      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;
    };

  testScript = common.testHelpers + ''
    machine.start()

    for daemon in ${builtins.toJSON daemons}:
        unit = f"{daemon}.service"

        with subtest(f"{daemon}: TimeoutStopSec is the module's 15s"):
            machine.wait_for_unit(unit)
            assert prop(unit, "TimeoutStopUSec") == "15s", prop(unit, "TimeoutStopUSec")

        with subtest(f"{daemon}: systemctl stop drains and exits 0 by itself, and it starts again"):
            scenario("sigterm", daemon)
  '';
}
