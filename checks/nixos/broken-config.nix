# broken-config: a daemon given a config with a bad field fails at start,
# fast, with the field's path in the journal, and its unit is failed.
# (checks/debian-vm/scenarios/broken-config.sh)
#
# The module checks every config it renders at build time
# (`--check-config`), so a broken one cannot come through `hwc.ai.*`: each
# daemon gets a copy of its unit as the module rendered it, running the
# broken config of checks/debian-vm/config/broken/ (<daemon>.json, and
# <daemon>.field naming the bad field) as it is, unchecked.
{ lib, ... }:
let
  common = import ./lib/common.nix;
  daemons = [
    "hwc-ai-prober"
    "hwc-ai-puller"
    "hwc-ai-router"
  ];
  broken = daemon: ../debian-vm/config/broken + "/${daemon}.json";
  field =
    daemon: lib.removeSuffix "\n" (builtins.readFile (../debian-vm/config/broken + "/${daemon}.field"));
  copyName = daemon: "hwc-check-broken-${lib.removePrefix "hwc-ai-" daemon}";
  cases = map (daemon: {
    inherit daemon;
    unit = "${copyName daemon}.service";
    field = field daemon;
  }) daemons;
in
{
  nodes.machine =
    { config, pkgs, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        models = [ "tinyllama" ];
        puller.minFree = 0;
      };

      systemd.services = {
        ollama = common.ollamaFake config.hwc.ai.package;
      }
      // lib.listToAttrs (
        map (
          daemon:
          lib.nameValuePair (copyName daemon) (
            common.unitCopy config.systemd.services.${daemon} {
              ExecStart = "${config.hwc.ai.package}/bin/${daemon} --config ${broken daemon}";
              # this scenario is about the first start; backoff.nix covers retries
              Restart = "no";
            }
          )
        ) daemons
      );

      environment.systemPackages = [ pkgs.curl ];
    };

  testScript = common.testHelpers + ''
    cases = ${builtins.toJSON cases}

    machine.start()
    for daemon in ${builtins.toJSON daemons}:
        machine.wait_for_unit(f"{daemon}.service")

    for case in cases:
        daemon, unit, field = case["daemon"], case["unit"], case["field"]

        with subtest(f"{daemon}: a broken config fails the start, fast"):
            cursor = journal_cursor()
            started = time.monotonic()
            status, out = machine.execute(f"systemctl start {unit} 2>&1")
            took = elapsed(started)
            assert status != 0, f"{daemon}: systemctl start succeeded with a broken config: {out}"
            assert took < 10, f"{daemon}: took {took}s to fail, expected under 10s"
            print(f"{daemon}: failed in {took}s, Result={prop(unit, 'Result')}")

        with subtest(f"{daemon}: the unit is failed, with the config exit status"):
            assert prop(unit, "ActiveState") == "failed", prop(unit, "ActiveState")
            assert prop(unit, "Result") == "exit-code", prop(unit, "Result")
            # 78, EX_CONFIG: a config error, as opposed to a crash
            assert prop(unit, "ExecMainStatus") == "78", prop(unit, "ExecMainStatus")

        with subtest(f"{daemon}: the journal names the field ({field})"):
            journal = journal_since(cursor, f"-u {unit} -o cat")
            line = next((line for line in journal.splitlines() if field in line), None)
            assert line is not None, f"{daemon}: no journal line names {field}:\n{journal}"
            print(f"{daemon}: {line}")

        machine.succeed(f"systemctl reset-failed {unit}")

    with subtest("the module's own units were not disturbed"):
        for daemon in ${builtins.toJSON daemons}:
            machine.succeed(is_running(f"{daemon}.service"))
            assert prop(f"{daemon}.service", "NRestarts") == "0"
  '';
}
