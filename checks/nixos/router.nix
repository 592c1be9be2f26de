# hwc-ai-router in front of Ollama: `hwc.ai.enable` alone runs it, only
# after READY=1; a chat completion through it (by an alias the module
# rendered) reaches Ollama, /v1/models lists the alias, /health says
# nothing leaves the host, /metrics counts the request, the prober sees
# it; with no cloud provider its sandbox reaches no address beyond
# loopback; SIGTERM with a stream in flight lets the stream finish. The
# scenario is checks/scenarios/router.sh, which the Debian VM runs too.
#
# The VM has no network, so "Ollama" is hwc-ai-ollama-fake on Ollama's port
# (it serves the OpenAI endpoints too), with the Debian VM's scenario file:
# qwen3:0.6b streams slowly, so a stream is still running at SIGTERM.
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, pkgs, ... }:
    {
      imports = [ (common.scenarios { daemons = [ "hwc-ai-router" ]; }) ];

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        prober = common.fastProbing;
        router.aliases.local-slow = "qwen3:0.6b";
      };

      systemd.services.ollama = common.ollamaFakeWith {
        package = config.hwc.ai.package;
        scenario = ../debian-vm/guest/ollama-fake-scenario.json;
      };

      # the scenario's server on an address beyond loopback
      environment.systemPackages = [ pkgs.python3 ];
    };

  testScript = common.testHelpers + ''
    unit = "hwc-ai-router.service"

    machine.start()
    machine.wait_for_unit(unit)
    machine.wait_for_unit("hwc-ai-prober.service")

    with subtest("as the module renders it: no cloud provider, so the IP filter allows loopback only"):
        machine.succeed(f"systemctl show -P IPAddressDeny {unit} | grep -q 0.0.0.0/0")
        machine.succeed(f"systemctl show -P IPAddressAllow {unit} | grep -q 127.0.0.0/8")

    with subtest(
        "Type=notify, serving at READY=1; a chat completion through the alias reaches the fake;"
        " /v1/models, /health and /metrics; the prober sees it; the sandbox reaches loopback only;"
        " SIGTERM lets a stream in flight finish and exits 0"
    ):
        scenario("router")

    with subtest("systemd never restarted the router by itself"):
        assert prop(unit, "NRestarts") == "0", prop(unit, "NRestarts")
  '';
}
