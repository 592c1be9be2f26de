# backoff: a daemon that always fails (a broken config) is restarted with a
# delay, not in a tight loop; the delay grows (RestartSteps=,
# RestartMaxDelaySec=) and stays bounded; and it keeps being retried: the
# start rate limit (5 starts in 10s by default) does not end the retries,
# because the units set StartLimitIntervalSec=0. The scenario is
# checks/scenarios/backoff.sh, which the Debian VM runs too: a runtime copy
# of the prober's unit as the module rendered it, running
# checks/debian-vm/config/broken/hwc-ai-prober.json unchecked (the module
# would reject that config at build time).
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine = {
    imports = [ (common.scenarios { daemons = [ "hwc-ai-prober" ]; }) ];

    hwc.ai = {
      enable = true;
      ollama.enable = false;
    };
  };

  testScript = common.testHelpers + ''
    unit = "hwc-ai-prober.service"

    machine.start()
    machine.wait_for_unit(unit)

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

    with subtest(
        "a copy with a broken config keeps being retried past 5 starts, never in a tight loop,"
        " the delay growing within RestartMaxDelaySec; stopping it ends the retries"
    ):
        scenario("backoff")
  '';
}
