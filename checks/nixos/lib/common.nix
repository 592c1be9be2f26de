# What the systemd scenarios (checks/nixos/<scenario>.nix) share: the
# shared scenario scripts in the VM, the fake Ollama's unit, copies of a unit
# the module rendered, and the test script's helpers. Not a test itself:
# checks/default.nix runs the files of checks/nixos/ only, not this
# directory.
#
# Each scenario has the name of its script in checks/scenarios/, which the
# Debian VM runs too (docs/systemd-checks.md); a test whose scenario is
# shared runs that script (`scenarios` below, `scenario(...)` in the test
# script) and keeps here only what is NixOS's own. The others use the same
# fixtures where they need one (checks/debian-vm/config/broken/,
# checks/debian-vm/guest/bearer-target.py).
rec {
  # A node's module: the scenario scripts of checks/scenarios/ in
  # /etc/hwc-check/scenarios, with this world's environment (what
  # checks/scenarios/lib.sh reads) and the tools they call. `daemons` are
  # the daemons the scenarios loop over.
  scenarios =
    {
      daemons,
      # the fake Ollama's unit (`ollamaFake` below)
      ollamaUnit ? "ollama",
    }:
    { pkgs, ... }:
    {
      environment.etc = {
        "hwc-check/scenarios".source = ../../scenarios;
        "hwc-check/broken".source = ../../debian-vm/config/broken;
        "hwc-check/env".text = ''
          CHECK_DIR=/etc/hwc-check
          BROKEN_CONFIG_DIR=/etc/hwc-check/broken
          CREDENTIAL_DIR=/etc/hwc-ai/credentials
          OLLAMA_UNIT=${ollamaUnit}
          DAEMONS='${builtins.concatStringsSep " " daemons}'
        '';
      };
      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
        pkgs.util-linux
      ];
    };

  # The prober's settings for a test: probe every second and change state on
  # the first result, so an outage or a recovery shows within seconds.
  fastProbing = {
    interval = "1s";
    timeout = "1s";
    failureThreshold = 1;
    successThreshold = 1;
  };

  # hwc-ai-ollama-fake on Ollama's port: Ollama's API with tiny built-in
  # models, for a VM without network. It is a fixture, not a module unit:
  # on a real system `hwc.ai.ollama.enable` runs nixpkgs' services.ollama.
  ollamaFake = package: ollamaFakeWith { inherit package; };

  # The same with a scenario file of the fake's (faults, slow streams), as
  # the Debian VM's fixture runs it (checks/debian-vm/guest/).
  ollamaFakeWith =
    {
      package,
      scenario ? null,
    }:
    {
      description = "Ollama (hwc-ai-ollama-fake)";
      wantedBy = [ "multi-user.target" ];
      before = [
        "hwc-ai-prober.service"
        "hwc-ai-puller.service"
        "hwc-ai-router.service"
      ];
      # one line per request is noise in a failure's journal excerpt
      environment.RUST_LOG = "info,hwc_ai_ollama_fake::http=warn";
      serviceConfig = {
        Type = "notify";
        ExecStart =
          "${package}/bin/hwc-ai-ollama-fake --listen 127.0.0.1:11434"
          + (if scenario == null then "" else " --scenario ${scenario}");
        DynamicUser = true;
      };
    };

  # A copy of a daemon's unit as the module rendered it (pass
  # `config.systemd.services.<daemon>`), under another name and started only
  # by the test script: the same sandbox, ExecStart, Type, watchdog, restart
  # settings and start limit, with `serviceConfig` on top (a broken config's
  # ExecStart, Restart=). Its own StateDirectory is dropped: a second
  # DynamicUser on the real unit's state directory would take it over.
  unitCopy = service: serviceConfig: {
    description = "copy of ${service.description}, for a scenario";
    unitConfig = {
      inherit (service.unitConfig) StartLimitIntervalSec;
    };
    serviceConfig = builtins.removeAttrs service.serviceConfig [ "StateDirectory" ] // serviceConfig;
  };

  # Python for the start of every test script. Shell commands run in the VM
  # as root; a secret is never put on their command line (the leak checks
  # compare in Python).
  testHelpers = ''
    import json
    import re
    import time


    def prop(unit: str, name: str) -> str:
        """One property of a unit, as `systemctl show -P` prints it."""
        return machine.succeed(f"systemctl show -P {name} {unit}").strip()


    def journal_cursor() -> str:
        """A mark in the journal: journal_since() reads from there on."""
        out = machine.succeed("journalctl -q -n 0 --show-cursor")
        return out.strip().removeprefix("-- cursor: ")


    def journal_since(cursor: str, args: str = "") -> str:
        return machine.succeed(f"journalctl -q --no-pager --cursor='{cursor}' {args}")


    def http_get(url: str) -> str:
        """The body, whatever the status (a 503 "degraded" is an answer)."""
        return machine.succeed(f"curl -sS --max-time 5 {url}")


    def health_of(name: str) -> dict:
        """One target of the prober's /health."""
        report = json.loads(http_get("http://127.0.0.1:9430/health"))
        return next((t for t in report["targets"] if t["name"] == name), {})


    def target_is(name: str, state: str) -> str:
        """A shell test: /health and /metrics of the prober both say that
        target NAME is STATE (up or down)."""
        up = "1" if state == "up" else "0"
        return (
            "curl -sS --max-time 5 http://127.0.0.1:9430/health"
            f" | jq -e --arg n {name} '.targets[] | select(.name == $n) | .state == \"{state}\"'"
            " && curl -sSf --max-time 5 http://127.0.0.1:9430/metrics"
            f" | grep -E '^hwc_ai_prober_target_up[{{]target=\"{name}\",.*[}}] {up}$'"
        )


    def is_running(unit: str) -> str:
        """A shell test: UNIT is active/running."""
        return (
            f"[ \"$(systemctl show -P ActiveState {unit})/$(systemctl show -P SubState {unit})\""
            " = active/running ]"
        )


    def elapsed(started: float) -> float:
        return round(time.monotonic() - started, 1)


    def scenario(name: str, *daemons: str) -> None:
        """Runs checks/scenarios/NAME.sh in the VM (`common.scenarios` put it
        there), for DAEMONS instead of the environment's list when given;
        fails with the scenario's FAIL lines."""
        status, out = machine.execute(
            f"bash /etc/hwc-check/scenarios/run-scenario {name} {' '.join(daemons)} 2>&1"
        )
        print(out)
        failed = [line for line in out.splitlines() if line.startswith("HWC-CHECK FAIL ")]
        assert status == 0, f"{name}: exit {status}: " + ("; ".join(failed) or out[-2000:])
  '';
}
