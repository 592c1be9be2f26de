# stack: the daemons work together, and with Ollama (the fake, its own unit
# on Ollama's port). The prober sees the fake and the other daemons up,
# reports the fake down once it stops and up once it is back, and logs
# both; the puller makes its declared model ready in the fake, and again
# after the fake comes back empty (it keeps its models in memory). The
# scenario is checks/scenarios/stack.sh, which the Debian VM runs too.
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
        puller = {
          minFree = 0;
          # The puller compares Ollama's list with the declaration every
          # 15min by default; 2s here, so it finds the model gone from the
          # restarted fake within the test.
          settings.schedule.recheckInterval = "2s";
        };
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
    };

  testScript = common.testHelpers + ''
    machine.start()
    for daemon in ${builtins.toJSON daemons}:
        machine.wait_for_unit(f"{daemon}.service")

    with subtest(
        "the prober sees the fake Ollama and the daemons up, reports the fake down once it stops and up"
        " once it is back, and logs both; the puller makes its model ready, and again in the fake that"
        " came back empty"
    ):
        scenario("stack")
  '';
}
