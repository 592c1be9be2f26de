# credentials: the prober reads a bearer token through LoadCredential= (the
# target answers 401 without it, so "up" proves it was read), and the value
# shows up nowhere else: not in the daemon's environment or command line,
# not in the journal, not in /metrics or /health, not in the unit's
# properties or the config document. The scenario is
# checks/scenarios/credentials.sh, which the Debian VM runs too.
{ ... }:
let
  common = import ./lib/common.nix;

  # A canary: found anywhere but the credential files, it is a leak. The
  # Debian VM draws a random one per run; here it is a constant, long
  # enough not to match anything by accident.
  canary = "hwc-canary-5f0d8c2e7a41b9d3e6f2a8c0";
  path = "/etc/hwc-ai/credentials/bearer-target-token";
in
{
  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ (common.scenarios { daemons = [ "hwc-ai-prober" ]; }) ];

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
    };

  testScript = common.testHelpers + ''
    machine.start()
    machine.wait_for_unit("hwc-ai-prober.service")

    with subtest(
        "the unit loads the credential, the daemon uses it (the target is up),"
        " and the value is nowhere else"
    ):
        scenario("credentials")

    with subtest("the file is root's and 0400, as environment.etc wrote it"):
        assert machine.succeed("stat -c '%U %a' ${path}").strip() == "root 400"
  '';
}
