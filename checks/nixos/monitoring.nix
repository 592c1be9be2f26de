# monitoring: the module wires the stack into nixpkgs' Prometheus,
# Alertmanager and Grafana. Prometheus scrapes every daemon with the
# module's jobs and loads the alert rules (nixpkgs checks them with promtool
# at build time); Grafana has the data source and the six dashboards, and
# answers a panel's query through the data source; with the fake Ollama
# stopped, HwcAiServiceDown becomes active for it. (checks/monitoring/run
# runs every dashboard query and the alert through Alertmanager on Debian.)
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
        models = [ "tinyllama" ];
        puller.minFree = 0;
        prober = common.fastProbing;
      };
      systemd.services.ollama = common.ollamaFake config.hwc.ai.package;

      services.prometheus = {
        enable = true;
        listenAddress = "127.0.0.1";
        globalConfig = {
          scrape_interval = "2s";
          evaluation_interval = "2s";
        };
        alertmanagers = [ { static_configs = [ { targets = [ "127.0.0.1:9093" ]; } ]; } ];
        alertmanager = {
          enable = true;
          listenAddress = "127.0.0.1";
          configuration = {
            route.receiver = "keep";
            receivers = [ { name = "keep"; } ];
          };
        };
      };

      services.grafana = {
        enable = true;
        settings.server.http_addr = "127.0.0.1";
        # a throwaway VM's; a real one comes from a file ($__file{...})
        settings.security.secret_key = "vm-test-only";
      };

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript = common.testHelpers + ''
    grafana = "curl -sSf --max-time 5 -u admin:admin http://127.0.0.1:3000"
    prometheus = "curl -sSf --max-time 5 http://127.0.0.1:9090"

    machine.start()
    machine.wait_for_unit("prometheus.service")
    machine.wait_for_unit("grafana.service")
    machine.wait_for_open_port(3000)

    with subtest("Prometheus scrapes the daemons with the module's jobs"):
        machine.wait_until_succeeds(
            f"{prometheus}/api/v1/query --data-urlencode 'query=up{{job=~\"hwc-ai-.+\"}}'"
            " | jq -e '(.data.result | length >= 3) and all(.data.result[]; .value[1] == \"1\")'",
            timeout=60,
        )

    with subtest("the alert rules are loaded"):
        rules = json.loads(machine.succeed(f"{prometheus}/api/v1/rules"))
        names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
        for name in ("HwcAiServiceDown", "HwcAiDaemonDown", "HwcAiModelMissing", "HwcAiRouterCircuitOpen"):
            assert name in names, f"{name} not loaded: {sorted(names)}"

    with subtest("Grafana has the data source and the dashboards"):
        machine.wait_until_succeeds(
            f"{grafana}/api/datasources/uid/hwc-ai-prometheus | jq -e '.url == \"http://127.0.0.1:9090\"'",
            timeout=60,
        )
        machine.wait_until_succeeds(f"{grafana}/api/search?tag=hwc-ai | jq -e 'length == 6'", timeout=60)
        found = json.loads(machine.succeed(f"{grafana}/api/search?tag=hwc-ai"))
        uids = sorted(d["uid"] for d in found)
        assert uids == [
            "hwc-ai-assistant", "hwc-ai-mcp", "hwc-ai-overview",
            "hwc-ai-prober", "hwc-ai-puller", "hwc-ai-router",
        ], uids
        assert all(d.get("folderTitle") == "hwc-ai" for d in found), found
        # a panel's query, through Grafana's own data source
        machine.succeed(
            f"{grafana}/api/datasources/proxy/uid/hwc-ai-prometheus/api/v1/query"
            " --data-urlencode 'query=hwc_ai_prober_target_up' -G"
            " | jq -e '.data.result | length > 0'"
        )

    with subtest("the fake Ollama stops: HwcAiServiceDown is active for it"):
        machine.succeed("systemctl stop ollama.service")
        machine.wait_until_succeeds(
            f"{prometheus}/api/v1/alerts"
            " | jq -e 'any(.data.alerts[]; .labels.alertname == \"HwcAiServiceDown\" and .labels.target == \"ollama\")'",
            timeout=60,
        )
  '';
}
