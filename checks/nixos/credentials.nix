# credentials: the prober reads a bearer token through LoadCredential= (the
# target answers 401 without it, so "up" proves it was read), and the value
# shows up nowhere else: not in the daemon's environment or command line,
# not in the journal, not in /metrics or /health, not in the unit's
# properties or the config document. (checks/debian-vm/scenarios/credentials.sh)
{ ... }:
let
  common = import ./lib/common.nix;

  # A canary: found anywhere but the credential files, it is a leak. The
  # Debian scenario draws a random one per run; here it is a constant, long
  # enough not to match anything by accident.
  canary = "hwc-canary-5f0d8c2e7a41b9d3e6f2a8c0";
  path = "/etc/hwc-ai/credentials/bearer-target-token";
in
{
  nodes.machine =
    { pkgs, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        prober = common.fastProbing // {
          credentials.bearer-target-token = path;
          targets = [
            {
              name = "bearer-target";
              kind = "http";
              url = "http://127.0.0.1:9440/health";
              bearerToken.credential = "bearer-target-token";
            }
          ];
        };
      };

      # The secret, root-owned and 0400. A test writes it from the Nix store,
      # so the store holds it here; a real deployment keeps it out of the store
      # with sops-nix or agenix and points `hwc.ai.prober.credentials` at
      # their decrypted file (config.sops.secrets.<name>.path).
      environment.etc."hwc-ai/credentials/bearer-target-token" = {
        text = canary;
        mode = "0400";
      };

      # A fixture, not a module unit: an HTTP target that answers 200 only to
      # the bearer token, read from its own credential (the Debian VM's
      # checks/debian-vm/guest/bearer-target.py).
      systemd.services.hwc-check-bearer-target = {
        description = "HTTP target that requires a bearer token";
        wantedBy = [ "multi-user.target" ];
        before = [ "hwc-ai-prober.service" ];
        serviceConfig = {
          ExecStart = "${pkgs.python3}/bin/python3 ${../debian-vm/guest/bearer-target.py} 127.0.0.1:9440";
          LoadCredential = "token:${path}";
          DynamicUser = true;
        };
      };

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript =
    { nodes, ... }:
    common.testHelpers
    + ''
      unit = "hwc-ai-prober.service"
      canary = "${canary}"


      def leak(where: str, text: str) -> None:
          assert canary not in text, f"the token is in {where}"
          print(f"the token is not in {where}")


      machine.start()
      machine.wait_for_unit(unit)

      with subtest("the unit loads the credential, and the daemon has it"):
          machine.succeed("systemctl cat hwc-ai-prober.service | grep -Fx 'LoadCredential=bearer-target-token:${path}'")
          # the file on the host is root's alone
          assert machine.succeed("stat -c '%U %a' ${path}").strip() == "root 400"
          pid = prop(unit, "MainPID")
          environ = machine.succeed(f"tr '\\0' '\\n' < /proc/{pid}/environ")
          directory = next(
              (line.split("=", 1)[1] for line in environ.splitlines() if line.startswith("CREDENTIALS_DIRECTORY=")),
              None,
          )
          assert directory is not None, f"daemon has no CREDENTIALS_DIRECTORY:\n{environ}"
          # read where the daemon reads it, in its own mount namespace: the
          # value the checks below look for is the one it holds
          held = machine.succeed(f"nsenter -t {pid} -m cat {directory}/bearer-target-token")
          assert canary in held, "the daemon's credential is not the token"

      with subtest("the daemon used it: the target is up (401 without the token)"):
          machine.wait_until_succeeds(target_is("bearer-target", "up"), timeout=60)
          journal = machine.succeed("journalctl -q -b -u hwc-check-bearer-target.service -o cat")
          assert any(line.startswith("authorized") for line in journal.splitlines()), (
              f"the target saw no authorized request:\n{journal}"
          )

      with subtest("the value is nowhere else"):
          leak(f"/proc/{pid}/environ", environ)
          leak(f"/proc/{pid}/cmdline", machine.succeed(f"tr '\\0' ' ' < /proc/{pid}/cmdline"))
          leak("any thread's environ", machine.succeed(f"cat /proc/{pid}/task/*/environ | tr '\\0' '\\n'"))
          # every field of every entry, not only MESSAGE
          leak("the journal", machine.succeed("journalctl -q -b -o verbose --no-pager"))
          leak("/metrics", http_get("http://127.0.0.1:9430/metrics"))
          leak("/health", http_get("http://127.0.0.1:9430/health"))
          leak("the unit's properties", machine.succeed(f"systemctl show {unit}"))
          document = machine.succeed("cat ${nodes.machine.hwc.ai.prober.configFile}")
          leak("the config document", document)
          assert '"credential":"bearer-target-token"' in document.replace(" ", ""), document
    '';
}
