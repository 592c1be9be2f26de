# hwc-ai-assistant on the real systemd: a dummy unit that fails, then "Is
# any service unhealthy?" over HTTP names it. The router's model is
# unreachable (no model in the VM), so the answer comes from the tools
# directly and says so. "restart nginx" is refused. The audit log the
# unit wrote verifies; the unit writes nowhere else. The scenario is
# checks/scenarios/assistant.sh, which the Debian VM runs too.
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine = {
    imports = [ (common.scenarios { daemons = [ "hwc-ai-assistant" ]; }) ];

    hwc.ai = {
      enable = true;
      ollama.enable = false;
      assistant = {
        enable = true;
        # nothing serves this: the direct path answers
        router = {
          url = "http://127.0.0.1:9";
          model = "none";
        };
      };
    };
  };

  testScript = common.testHelpers + ''
    machine.start()
    machine.wait_for_unit("hwc-ai-assistant.service")

    with subtest(
        "Type=notify; a failed unit is named when asked whether any service is unhealthy, and among"
        " recent failures with its journal line; a change is refused; the audit log verifies and is all"
        " the unit wrote; SIGTERM stops it cleanly"
    ):
        scenario("assistant")
  '';
}
