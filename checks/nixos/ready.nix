# ready: every daemon is Type=notify and becomes active only once it has
# sent READY=1, by which time it already serves /health; its STATUS= line is
# set. The scenario is checks/scenarios/ready.sh, which the Debian VM runs too.
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
        # a declared model: the puller runs too
        models = [ "tinyllama" ];
        puller.minFree = 0;
      };

      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;
    };

  testScript = common.testHelpers + ''
    machine.start()
    machine.wait_for_unit("multi-user.target")

    for daemon in ${builtins.toJSON daemons}:
        with subtest(
            f"{daemon}: Type=notify, active/running after boot, with a status line;"
            " a fresh start goes start -> READY=1 -> running, serving /health"
        ):
            machine.wait_for_unit(f"{daemon}.service")
            scenario("ready", daemon)
  '';
}
