# workflows: two journal workflows declared with hwc.ai.workflows, each on a
# schedule: their timers wait for it; fired, the first writes its note into
# its output directory and the assistant lists the run; the second, whose
# output directory is missing, fails its service with the error naming the
# directory in `systemctl status` and the journal. The scenario is
# checks/scenarios/workflows.sh, which the Debian VM runs too (there the
# same workflows are in the assistant's config document).
{ ... }:
let
  common = import ./lib/common.nix;
  journalInto = directory: {
    kind = "journal";
    output.directory = directory;
    schedule = "*-*-* 04:00:00";
  };
in
{
  nodes.machine = {
    imports = [ (common.scenarios { daemons = [ "hwc-ai-assistant" ]; }) ];

    hwc.ai = {
      enable = true;
      ollama.enable = false;
      assistant = {
        enable = true;
        # nothing serves this: the notes are written without a summary
        router = {
          url = "http://127.0.0.1:9";
          model = "none";
        };
      };
      workflows = {
        daily = journalInto "/var/lib/hwc-check-notes";
        broken = journalInto "/var/lib/hwc-check-missing";
      };
    };
  };

  testScript = common.testHelpers + ''
    machine.start()
    machine.wait_for_unit("hwc-ai-assistant.service")
    machine.wait_for_unit("timers.target")

    with subtest(
        "each scheduled workflow has a persistent, randomized timer; fired, it writes its note and the"
        " assistant lists the run; a missing output directory fails the service, named in systemctl"
        " status and the journal"
    ):
        scenario("workflows")
  '';
}
