# Declared models become real: hwc-ai-puller pulls them, validates each with
# one real inference, reports them in /health, /models, STATUS= and metrics,
# and `hwc-ai models` tells the truth.
#
# The VM has no network, so "Ollama" here is hwc-ai-ollama-fake on Ollama's
# port, offering the same API with tiny models (all-minilm, tinyllama). To
# run it against a real Ollama, drop the `ollama` unit below, set
# `hwc.ai.ollama.enable = true` and give the VM a registry to pull from: the
# test script is the same.
{ pkgs, ... }:
{
  nodes.machine =
    { config, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        models = [
          "tinyllama"
          {
            name = "all-minilm";
            autoUpdate = true;
          }
        ];
        puller.minFree = 0;
        prober = {
          interval = "1s";
          timeout = "1s";
          successThreshold = 1;
        };
      };

      # Ollama's API on Ollama's port, with the fake's built-in tiny models.
      systemd.services.ollama = {
        description = "Ollama (hwc-ai-ollama-fake)";
        wantedBy = [ "multi-user.target" ];
        before = [ "hwc-ai-puller.service" ];
        serviceConfig = {
          Type = "notify";
          ExecStart = "${config.hwc.ai.package}/bin/hwc-ai-ollama-fake --listen 127.0.0.1:11434";
          DynamicUser = true;
        };
      };

      environment.systemPackages = [ pkgs.curl ];
    };

  testScript = ''
    import json


    def models() -> dict:
        return json.loads(machine.succeed("curl -sSf http://127.0.0.1:9431/models"))


    def model(name: str) -> dict:
        return next(m for m in models()["models"] if m["name"] == name)


    machine.start()

    with subtest("hwc-ai-puller reaches active (READY=1, Type=notify) in its sandbox"):
        machine.wait_for_unit("hwc-ai-puller.service")
        machine.succeed("systemctl show -P Type hwc-ai-puller.service | grep -qx notify")
        machine.succeed("systemctl show -P IPAddressAllow hwc-ai-puller.service | grep -q 127.0.0.0/8")
        machine.succeed("systemctl show -P StateDirectory hwc-ai-puller.service | grep -qx hwc-ai-puller")

    with subtest("both declared models are pulled and validated"):
        machine.wait_until_succeeds(
            "curl -sSf http://127.0.0.1:9431/health | grep -q '\"status\":\"ok\"'",
            timeout=120,
        )
        tiny = model("tinyllama")
        assert tiny["state"] == "ready" and tiny["valid"] is True, tiny
        assert tiny["kind"] == "completion", tiny
        minilm = model("all-minilm")
        assert minilm["kind"] == "embedding", minilm
        machine.succeed("journalctl -u hwc-ai-puller.service --no-pager | grep -F 'tinyllama is valid (completion answered)'")
        machine.succeed("journalctl -u hwc-ai-puller.service --no-pager | grep -F 'all-minilm is valid (embedding answered)'")
        machine.succeed("systemctl show -P StatusText hwc-ai-puller.service | grep -F '2/2 models ready'")

    with subtest("metrics, and the prober sees the puller"):
        metrics = machine.succeed("curl -sSf http://127.0.0.1:9431/metrics")
        assert 'hwc_ai_puller_model_valid{model="tinyllama"} 1' in metrics, metrics
        assert 'hwc_ai_puller_model_present{model="all-minilm"} 1' in metrics, metrics
        machine.wait_until_succeeds(
            "curl -sSf http://127.0.0.1:9430/metrics"
            " | grep -Fx 'hwc_ai_prober_target_up{target=\"hwc-ai-puller\",kind=\"hwc-ai\"} 1'",
            timeout=60,
        )

    with subtest("hwc-ai models and models sync tell the truth"):
        table = machine.succeed("hwc-ai models")
        assert "2 of 2 declared models ready" in table, table
        machine.succeed("hwc-ai models sync")

    with subtest("the state file survives a restart: no second validation"):
        machine.succeed("systemctl restart hwc-ai-puller.service")
        machine.wait_until_succeeds(
            "curl -sSf http://127.0.0.1:9431/health | grep -q '\"status\":\"ok\"'",
            timeout=60,
        )
        since_restart = machine.succeed(
            "journalctl -u hwc-ai-puller.service --no-pager -b"
            " --since \"$(systemctl show -P ActiveEnterTimestamp hwc-ai-puller.service)\""
        )
        assert "is valid" not in since_restart, since_restart

    with subtest("SIGHUP reconciles now"):
        machine.succeed("systemctl kill -s HUP hwc-ai-puller.service")
        machine.wait_until_succeeds(
            "journalctl -u hwc-ai-puller.service --no-pager | grep -F 'SIGHUP received: reconciling now'",
            timeout=30,
        )
        machine.succeed("systemctl show -P NRestarts hwc-ai-puller.service | grep -qx 0")
  '';
}
