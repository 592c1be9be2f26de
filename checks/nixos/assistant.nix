# hwc-ai-assistant on the real systemd: a dummy unit that fails, then "Is
# any service unhealthy?" over HTTP names it. The router's model is
# unreachable (no model in the VM), so the answer comes from the tools
# directly and says so. "restart nginx" is refused. The audit log the
# unit wrote verifies; the unit writes nowhere else.
{ ... }:
let
  common = import ./lib/common.nix;
in
{
  nodes.machine =
    { pkgs, ... }:
    {
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

      systemd.services.hwc-dummy-broken = {
        description = "A unit that fails, for the assistant to find";
        serviceConfig = {
          Type = "oneshot";
          ExecStart = "${pkgs.bash}/bin/sh -c 'echo \"<3>database unreachable\" >&2; exit 3'";
        };
      };

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript =
    { ... }:
    common.testHelpers
    + ''
    assistant = "http://127.0.0.1:9434"


    def ask(text: str) -> dict:
        body = json.dumps({"model": "hwc-ai-assistant", "messages": [{"role": "user", "content": text}]})
        return json.loads(machine.succeed(
            f"curl -sSf --max-time 60 {assistant}/v1/chat/completions"
            f" -H 'content-type: application/json' -d '{body}'"
        ))


    machine.start()

    with subtest("hwc-ai-assistant reaches active (READY=1, Type=notify)"):
        machine.wait_for_unit("hwc-ai-assistant.service")
        assert prop("hwc-ai-assistant.service", "Type") == "notify"
        machine.succeed(is_running("hwc-ai-assistant.service"))

    with subtest("a failed unit is named when asked whether any service is unhealthy"):
        machine.fail("systemctl start hwc-dummy-broken.service")
        answer = ask("Is any service unhealthy?")
        reply = answer["choices"][0]["message"]["content"]
        assert "hwc-dummy-broken.service" in reply, reply
        assert "model was not available" in reply, reply
        assert answer["hwc_ai"]["source"] == "direct", answer

    with subtest("it also shows among recent failures, with its journal line"):
        failures = json.loads(machine.succeed(
            f"curl -sSf -X POST {assistant}/tools/recent_failures -d '{{}}'"
        ))
        assert any(u["name"] == "hwc-dummy-broken.service" for u in failures["failed"]), failures
        assert any("database unreachable" in e["message"] for e in failures["journal"]), failures

    with subtest("a request to change something is refused"):
        answer = ask("restart nginx")
        assert answer["hwc_ai"]["intent"] == "refused", answer

    with subtest("the audit log verifies, and is all the unit wrote"):
        machine.succeed("hwc-ai audit verify --db /var/lib/hwc-ai-assistant/audit.db")
        machine.succeed("systemctl show -P StateDirectory hwc-ai-assistant.service | grep -qx hwc-ai-assistant")
        machine.succeed("systemctl show -P ProtectSystem hwc-ai-assistant.service | grep -qx strict")

    with subtest("SIGTERM stops it cleanly"):
        machine.succeed("systemctl stop hwc-ai-assistant.service")
        assert prop("hwc-ai-assistant.service", "Result") == "success"
    '';
}
