# broken-config: a daemon given a config with a bad field fails at start,
# fast, with the config exit status and the field's path in the journal,
# and its unit is failed; the module's own units are not disturbed. The
# scenario is checks/scenarios/broken-config.sh, which the Debian VM runs
# too: for each broken config of checks/debian-vm/config/broken/
# (<daemon>.json, and <daemon>.field naming the bad field), a runtime copy
# of the unit the module rendered runs it as it is, unchecked. (The module
# checks every config it renders at build time, `--check-config`, so a
# broken one cannot come through `hwc.ai.*`.)
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
        machine.wait_for_unit(f"{daemon}.service")

    with subtest(
        "a broken config fails the start, fast, with exit status 78 and the field named in the journal;"
        " the module's own units are not disturbed"
    ):
        scenario("broken-config")
  '';
}
