# Two more Ollama hosts: they and the local Ollama form one tier wherever
# the local Ollama was used (the catch-all route, string aliases), each
# discovers its models, the LAN hosts are remote (one over https, its CA
# trusted as the backend's tls.caFile); a target may name
# several backends itself.
{
  config.hwc.ai = {
    enable = true;
    router = {
      ollamaHosts = {
        gpu1.url = "http://10.0.0.5:11434";
        gpu2 = {
          url = "https://10.0.0.6:8443";
          maxConcurrent = 4;
          maxQueue = 8;
          caFile = "/etc/ssl/home-ca.pem";
        };
      };
      aliases = {
        chat = "qwen3:8b";
        pair = [
          {
            backends = [
              "gpu1"
              "gpu2"
            ];
            model = "llama3.1:70b";
          }
        ];
      };
    };
  };

  expect =
    { config, lib }:
    let
      settings = config.hwc.ai.router.settings;
      unit = config.systemd.services.hwc-ai-router;
    in
    [
      {
        what = "backends: the local Ollama and the hosts, each discovering";
        got = settings.backends;
        want = [
          {
            name = "ollama";
            kind = "openai-compatible";
            baseUrl = "http://127.0.0.1:11434/v1";
            listModels = true;
            discover = true;
          }
          {
            name = "gpu1";
            kind = "openai-compatible";
            baseUrl = "http://10.0.0.5:11434/v1";
            remote = true;
            discover = true;
          }
          {
            name = "gpu2";
            kind = "openai-compatible";
            baseUrl = "https://10.0.0.6:8443/v1";
            remote = true;
            maxConcurrent = 4;
            maxQueue = 8;
            discover = true;
            tls.caFile = "/etc/ssl/home-ca.pem";
          }
        ];
      }
      {
        what = "routes: a string alias and the catch-all go to one tier of all three; a target names its own tier";
        got = settings.routes;
        want = [
          {
            model = "chat";
            targets = [
              {
                backends = [
                  "ollama"
                  "gpu1"
                  "gpu2"
                ];
                model = "qwen3:8b";
              }
            ];
          }
          {
            model = "pair";
            targets = [
              {
                backends = [
                  "gpu1"
                  "gpu2"
                ];
                model = "llama3.1:70b";
              }
            ];
          }
          {
            model = "*";
            targets = [
              {
                backends = [
                  "ollama"
                  "gpu1"
                  "gpu2"
                ];
              }
            ];
          }
        ];
      }
      {
        what = "the unit may reach the hosts";
        got = lib.hasInfix "10.0.0.5" (builtins.toJSON unit.serviceConfig);
        want = true;
      }
    ];
}
