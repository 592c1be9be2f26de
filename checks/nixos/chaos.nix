# chaos: SIGKILL in the middle of a stream. Ollama killed while the router
# relays its stream: the client gets an error event and no [DONE], the
# router logs a stream_error, stays up (same process, no restart) and
# answers again once Ollama is back. The router killed mid-stream: the
# client's stream is cut, systemd restarts it (the module's
# Restart=on-failure) and the next chat is answered. The scenario is
# checks/scenarios/chaos.sh, which the Debian VM runs too.
#
# The VM has no network, so "Ollama" is hwc-ai-ollama-fake on Ollama's port
# with the Debian VM's scenario file: qwen3:0.6b streams a token every
# 300 ms, so a stream is in flight when the kill comes.
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, ... }:
    {
      imports = [ (common.scenarios { daemons = [ "hwc-ai-router" ]; }) ];

      hwc.ai = {
        enable = true;
        ollama.enable = false;
        prober = common.fastProbing;
      };

      systemd.services.ollama = common.ollamaFakeWith {
        package = config.hwc.ai.package;
        scenario = ../debian-vm/guest/ollama-fake-scenario.json;
      };
    };

  testScript = common.testHelpers + ''
    unit = "hwc-ai-router.service"

    machine.start()
    machine.wait_for_unit(unit)
    machine.wait_for_unit("ollama.service")

    with subtest("as the module renders it: the router is restarted on failure"):
        assert prop(unit, "Restart") == "on-failure", prop(unit, "Restart")
        assert prop(unit, "NRestarts") == "0", prop(unit, "NRestarts")

    with subtest(
        "Ollama killed mid-stream: an error event, no [DONE], a stream_error logged, the router"
        " stays up and answers once Ollama is back; the router killed mid-stream: the stream is cut,"
        " systemd restarts it and it answers"
    ):
        scenario("chaos")

    with subtest("systemd restarted the router once, for the SIGKILL"):
        assert prop(unit, "NRestarts") == "1", prop(unit, "NRestarts")
  '';
}
