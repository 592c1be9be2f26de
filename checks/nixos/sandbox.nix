# sandbox: `systemd-analyze security` scores every daemon's unit at 1.5 or
# lower, the hardening is in force on the running process, this systemd
# knows every directive the units use, and each daemon still does its job
# under it: the prober probes its loopback targets, the puller measures
# Ollama's models directory (statvfs through its read-only bind mount), the
# router answers through Ollama. The scenario is checks/scenarios/sandbox.sh,
# which the Debian VM runs too; the router's answer is this test's own.
# (`unit-score` scores the prober's unit offline, at build time.)
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
      # Ollama's models directory, which services.ollama would create: the
      # puller's unit binds it read-only to measure its file system
      systemd.tmpfiles.rules = [ "d ${config.hwc.ai.puller.modelsDir} 0755 root root -" ];
    };

  testScript = common.testHelpers + ''
    machine.start()

    for daemon in ${builtins.toJSON daemons}:
        machine.wait_for_unit(f"{daemon}.service")

    with subtest(
        "each unit scored at 1.5 or lower, every directive known; each process unprivileged, NoNewPrivs,"
        " seccomp, no capabilities, read-only /; the prober probes its loopback targets and the puller"
        " measures the models directory under it"
    ):
        scenario("sandbox")

    with subtest("hwc-ai-router answers through Ollama under the sandbox"):
        machine.wait_until_succeeds(
            "curl -sSf --max-time 5 http://127.0.0.1:9431/health | jq -e '.status == \"ok\"'",
            timeout=120,
        )
        answer = machine.succeed(
            "curl -sSf --max-time 30 http://127.0.0.1:9432/v1/chat/completions -H 'content-type: application/json'"
            " -d '{\"model\": \"tinyllama\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}'"
        )
        assert json.loads(answer)["choices"][0]["message"]["content"].startswith("echo:"), answer
  '';
}
