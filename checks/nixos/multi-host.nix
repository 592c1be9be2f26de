# Two hosts: the router on `gateway` reaches the Ollama of `gpu` through
# the TLS endpoint `gpu` publishes on the LAN (docs/router.md, Several
# Ollama hosts). `gpu` runs Ollama (the fake) on loopback behind nixpkgs'
# nginx with TLS, a certificate from a test CA made at build time, its
# firewall open for that port only; `gateway` runs hwc-ai with its own
# Ollama (the fake) and `hwc.ai.router.ollamaHosts.gpu = { url =
# "https://gpu:8443"; caFile = <the test CA>; }`.
#
# What the operator relies on: a model only `gpu` has is answered through
# the gateway's router and /health says `gpu` lists it; a stream arrives
# token by token across; `gpu`'s Ollama port is closed to the LAN; with
# `gpu`'s nginx stopped, /health shows the failed listing, a model both
# have is still answered (by the gateway's own Ollama) and one only `gpu`
# had is a 502 naming it. checks/peers/test_two_hosts.py runs the same
# topology in two network namespaces.
{ pkgs, ... }:
let
  common = import ./lib/common.nix;

  # qwen3:0.6b is on gpu only and streams a token per 100 ms;
  # llama3.2:1b is on both.
  onlyGpu = "qwen3:0.6b";
  shared = "llama3.2:1b";
  port = 8443;

  scenario =
    models:
    pkgs.writeText "ollama-fake-scenario.json" (
      builtins.toJSON {
        installed = models;
        faults = [
          {
            model = onlyGpu;
            tokenDelay = "100ms";
          }
        ];
      }
    );

  # A CA and a certificate it signs for `gpu`, made at build time.
  certificates =
    pkgs.runCommand "hwc-ai-test-certificates" { nativeBuildInputs = [ pkgs.openssl ]; }
      ''
        mkdir $out && cd $out
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
          -keyout ca.key -out ca.pem -days 3650 -subj "/CN=hwc-ai test CA"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
          -keyout key.pem -out server.csr -subj /CN=gpu
        echo subjectAltName=DNS:gpu > san.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
          -out cert.pem -days 3650 -extfile san.ext
      '';
in
{
  nodes.gpu =
    { config, ... }:
    {
      systemd.services.ollama = common.ollamaFakeWith {
        package = config.hwc.ai.package;
        scenario = scenario [
          onlyGpu
          shared
        ];
      };

      services.nginx = {
        enable = true;
        virtualHosts.gpu = {
          onlySSL = true;
          listen = [
            {
              addr = "0.0.0.0";
              inherit port;
              ssl = true;
            }
          ];
          sslCertificate = "${certificates}/cert.pem";
          sslCertificateKey = "${certificates}/key.pem";
          locations."/" = {
            proxyPass = "http://127.0.0.1:11434";
            # streams pass as they come; a long answer is not cut off
            extraConfig = ''
              proxy_buffering off;
              proxy_read_timeout 10m;
            '';
          };
        };
      };
      networking.firewall.allowedTCPPorts = [ port ];
    };

  nodes.gateway =
    { config, pkgs, ... }:
    {
      hwc.ai = {
        enable = true;
        ollama.enable = false;
        router.ollamaHosts.gpu = {
          url = "https://gpu:${toString port}";
          caFile = "${certificates}/ca.pem";
        };
        # see a host go and come back within seconds
        router.settings.defaults.discoverInterval = "1s";
      };
      systemd.services.ollama = common.ollamaFakeWith {
        package = config.hwc.ai.package;
        scenario = scenario [ shared ];
      };
      # for curl in the test script
      environment.etc."hwc-check/ca.pem".source = "${certificates}/ca.pem";
      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript = ''
    import json

    router = "http://127.0.0.1:9432"


    def gpu_backend() -> dict:
        health = json.loads(gateway.succeed(f"curl -sS --max-time 5 {router}/health"))
        return next(b for b in health["backends"] if b["name"] == "gpu")


    def chat(model: str, stream: bool = False) -> str:
        body = json.dumps(
            {
                "model": model,
                "stream": stream,
                "messages": [{"role": "user", "content": "one two three four five six seven eight"}],
            }
        )
        return f"curl -sS --max-time 30 {router}/v1/chat/completions -H 'Content-Type: application/json' -d '{body}'"


    start_all()
    gpu.wait_for_unit("nginx.service")
    gpu.wait_for_open_port(${toString port})
    gateway.wait_for_unit("hwc-ai-router.service")

    with subtest("gpu's Ollama is published with TLS only: its own port is closed to the LAN"):
        gateway.succeed(
            "curl -sSf --max-time 5 --cacert /etc/hwc-check/ca.pem https://gpu:${toString port}/api/tags"
            " | grep -q ${onlyGpu}"
        )
        gateway.fail("curl -sS --max-time 5 http://gpu:11434/api/tags")
        # the port answers TLS only
        gateway.succeed(
            "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://gpu:${toString port}/api/tags | grep -qx 400"
        )

    with subtest("a model only gpu has is answered through the gateway's router; /health says gpu lists it"):
        gateway.wait_until_succeeds(
            f"curl -sS {router}/health"
            " | jq -e '.backends[] | select(.name == \"gpu\") | .models.installed | index(\"${onlyGpu}\")'",
            timeout=60,
        )
        answer = json.loads(gateway.succeed(chat("${onlyGpu}") + " --fail"))
        assert "one two three" in answer["choices"][0]["message"]["content"], answer
        health = json.loads(gateway.succeed(f"curl -sS {router}/health"))
        ollama = next(b for b in health["backends"] if b["name"] == "ollama")
        assert "${onlyGpu}" not in ollama["models"]["installed"], ollama

    with subtest("a stream crosses token by token"):
        out = gateway.succeed(
            chat("${onlyGpu}", stream=True) + " -N -o /tmp/stream -w '%{time_starttransfer} %{time_total}'"
        )
        first, total = (float(t) for t in out.split())
        # eight tokens 100 ms apart: the first is there long before the end,
        # not held back by nginx
        assert total >= 0.6 and first < total / 2, out
        chunks = gateway.succeed("grep -c '^data: {' /tmp/stream")
        assert int(chunks) >= 8, chunks
        gateway.succeed("grep -q '^data: \\[DONE\\]' /tmp/stream")

    with subtest("gpu's nginx stopped: /health shows the failed listing, the shared model is answered, gpu's is a 502"):
        gpu.systemctl("stop nginx.service")
        gateway.wait_until_succeeds(
            f"curl -sS {router}/health | jq -e '.backends[] | select(.name == \"gpu\") | .models.error'",
            timeout=30,
        )
        gateway.succeed(chat("${shared}") + " --fail")
        code = gateway.succeed(chat("${onlyGpu}") + " -o /tmp/err -w '%{http_code}'")
        assert code == "502", code
        error = json.loads(gateway.succeed("cat /tmp/err"))
        assert "gpu" in error["error"]["message"], error
        assert gpu_backend()["models"]["error"], gpu_backend()
  '';
}
