# ready: every daemon is Type=notify and becomes active only once it has
# sent READY=1, by which time it already serves /health; its STATUS= line is
# set. (checks/debian-vm/scenarios/ready.sh)
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { config, pkgs, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        # a declared model: the puller runs too
        models = [ "tinyllama" ];
        puller.minFree = 0;
      };

      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript = common.testHelpers + ''
    daemons = {"hwc-ai-prober": 9430, "hwc-ai-puller": 9431, "hwc-ai-router": 9432}

    machine.start()
    machine.wait_for_unit("multi-user.target")

    for daemon, port in daemons.items():
        unit = f"{daemon}.service"

        with subtest(f"{daemon}: Type=notify, active/running after boot, with a status line"):
            machine.wait_for_unit(unit)
            assert prop(unit, "Type") == "notify", prop(unit, "Type")
            machine.succeed(is_running(unit))
            status = prop(unit, "StatusText")
            assert status != "", f"{daemon}: StatusText is empty"
            print(f"{daemon}: StatusText={status!r}")

        with subtest(f"{daemon}: a fresh start goes start -> READY=1 -> running, serving /health"):
            machine.succeed(f"systemctl stop {unit}")
            # PID 1's debug log shows every sd_notify message a unit sends
            machine.succeed("systemd-analyze log-level debug")
            cursor = journal_cursor()
            started = time.monotonic()
            machine.succeed(f"systemctl start {unit}")
            took = elapsed(started)
            # `systemctl start` of a notify unit returns at READY=1: the
            # listener must answer at once, without a retry
            code = http_status(f"http://127.0.0.1:{port}/health")
            assert code != "000", f"{daemon}: /health did not answer right after systemctl start returned"
            machine.succeed("systemd-analyze log-level info")
            print(f"{daemon}: started in {took}s, /health answered {code}")

            journal = journal_since(cursor, f"-u {unit} -o cat").splitlines()

            def at(text: str) -> int:
                return next((i for i, line in enumerate(journal) if text in line), -1)

            starting, ready, running = at("Changed dead -> start"), at("READY=1"), at("Changed start -> running")
            assert 0 <= starting < ready < running, (
                f"{daemon}: no start -> READY=1 -> running sequence in PID 1's log"
                f" (lines: start={starting} READY={ready} running={running}):\n" + "\n".join(journal)
            )
            assert prop(unit, "NRestarts") == "0", f"{daemon}: NRestarts={prop(unit, 'NRestarts')}"
  '';
}
