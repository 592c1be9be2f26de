# limits: each daemon's unit carries the module's resource limits
# (MemoryMax=, TasksMax=, LimitNOFILE=, modules/lib/daemons.nix) and the
# kernel holds the running process to them; the router under a small
# MemoryMax= fed large request bodies is OOM-killed, the journal says so,
# systemd starts it again and the prober reports it DOWN and UP again; a
# copy of the prober's unit under TasksMax=2 fails at start and says why.
# The scenario is checks/scenarios/limits.sh, which the Debian VM runs too.
{ ... }:
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
            "hwc-ai-router"
          ];
        })
      ];

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        prober = common.fastProbing;
      };

      systemd.services.ollama = common.ollamaFakeWith {
        package = config.hwc.ai.package;
        scenario = ../debian-vm/guest/ollama-fake-scenario.json;
      };

      # Two cores, as the Debian VM has: the runtime starts one async
      # worker per core up to two, and TasksMax=2 must be too few for the
      # workers and the main thread, as on any host with two cores or more.
      virtualisation.cores = 2;
      # sixteen 7 MiB request bodies in flight beside the VM's own use
      virtualisation.memorySize = 1024;
    };

  testScript = common.testHelpers + ''
    machine.start()
    for name in ["hwc-ai-prober.service", "hwc-ai-router.service"]:
        machine.wait_for_unit(name)

    with subtest("as the module renders them: MemoryMax=, TasksMax= and LimitNOFILE= of modules/lib/daemons.nix"):
        expected = {
            "hwc-ai-prober.service": {"MemoryMax": str(128 << 20), "TasksMax": "64", "LimitNOFILE": "1024"},
            "hwc-ai-router.service": {"MemoryMax": str(512 << 20), "TasksMax": "256", "LimitNOFILE": "8192"},
        }
        for name, limits in expected.items():
            seen = {key: prop(name, key) for key in limits}
            assert seen == limits, f"{name}: {seen}, expected {limits}"

    with subtest(
        "the cgroups and processes hold the limits; the router OOM-killed under MemoryMax=32M is"
        " restarted and the prober reports it DOWN and UP again; TasksMax=2 fails at start, saying why"
    ):
        scenario("limits")

    with subtest("the scenario put the router back under the module's MemoryMax="):
        assert prop("hwc-ai-router.service", "MemoryMax") == str(512 << 20), prop("hwc-ai-router.service", "MemoryMax")
  '';
}
