# hwc-ai enabled with no Ollama running: the prober comes up anyway, says
# loudly that Ollama is down and why, and sees a service come up.
{ pkgs, ... }:
let
  # a page for the dummy server to serve
  site = pkgs.writeTextDir "index.html" "ok\n";
in
{
  nodes.machine = {
    hwc.ai = {
      enable = true;
      ollama.enable = false;
      prober = {
        interval = "1s";
        timeout = "1s";
        failureThreshold = 2;
        successThreshold = 1;
        targets = [
          # nothing listens there: Ollama is not enabled
          {
            name = "ollama";
            kind = "ollama";
            url = "http://127.0.0.1:11434";
          }
          {
            name = "dummy";
            kind = "http";
            url = "http://127.0.0.1:8000/";
          }
        ];
      };
    };

    # started by the test script, not at boot
    systemd.services.dummy-http = {
      description = "A plain HTTP server for the prober to find";
      serviceConfig = {
        ExecStart = "${pkgs.python3}/bin/python3 -m http.server 8000 --bind 127.0.0.1 --directory ${site}";
        DynamicUser = true;
      };
    };

    environment.systemPackages = [ pkgs.curl ];
  };

  testScript = ''
    import json


    def metrics() -> str:
        return machine.succeed("curl -sSf http://127.0.0.1:9430/metrics")


    def health_of(name: str) -> dict:
        report = json.loads(machine.succeed("curl -sSf http://127.0.0.1:9430/health"))
        return next(t for t in report["targets"] if t["name"] == name)


    machine.start()

    with subtest("hwc-ai-prober reaches active (READY=1, Type=notify)"):
        machine.wait_for_unit("hwc-ai-prober.service")
        machine.succeed("systemctl show -P ActiveState hwc-ai-prober.service | grep -qx active")
        machine.succeed("systemctl show -P Type hwc-ai-prober.service | grep -qx notify")

    with subtest("the ollama target goes DOWN, and the journal says why"):
        machine.wait_until_succeeds(
            "curl -sSf http://127.0.0.1:9430/metrics"
            " | grep -Fx 'hwc_ai_prober_target_up{target=\"ollama\",kind=\"ollama\"} 0'",
            timeout=60,
        )
        machine.wait_until_succeeds(
            "journalctl -u hwc-ai-prober.service --no-pager | grep -i 'connection refused'",
            timeout=30,
        )
        assert health_of("ollama")["state"] == "down", health_of("ollama")

    with subtest("a service that comes up goes UP"):
        machine.succeed("systemctl start dummy-http.service")
        machine.wait_for_open_port(8000)
        machine.wait_until_succeeds(
            "curl -sSf http://127.0.0.1:9430/metrics"
            " | grep -Fx 'hwc_ai_prober_target_up{target=\"dummy\",kind=\"http\"} 1'",
            timeout=60,
        )
        dummy = health_of("dummy")
        assert dummy["state"] == "up", dummy

    with subtest("the prober is still running, and never restarted"):
        machine.succeed("systemctl show -P NRestarts hwc-ai-prober.service | grep -qx 0")
        assert "hwc_ai_prober_target_up" in metrics()
  '';
}
