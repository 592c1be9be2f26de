# The shape of the VM test: no Ollama, an explicit Ollama target at a closed
# port, a plain HTTP target, short intervals.
{
  config.hwc.ai = {
    enable = true;
    ollama.enable = false;
    prober = {
      interval = "1s";
      timeout = "1s";
      failureThreshold = 1;
      successThreshold = 1;
      targets = [
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

  expect =
    { config, lib }:
    [
      {
        what = "Ollama is not enabled";
        got = config.services.ollama.enable;
        want = false;
      }
      {
        what = "the router's /health and exactly the explicit targets, nulls dropped";
        got = config.hwc.ai.prober.settings.targets;
        want = [
          {
            name = "hwc-ai-router";
            kind = "hwc-ai";
            url = "http://127.0.0.1:9432";
          }
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
      }
      {
        what = "defaults from the typed options";
        got = config.hwc.ai.prober.settings.defaults;
        want = {
          interval = "1s";
          timeout = "1s";
          failureThreshold = 1;
          successThreshold = 1;
        };
      }
      {
        what = "not ordered after an ollama.service that does not exist";
        got = config.systemd.services.hwc-ai-prober.after;
        want = [ "network-online.target" ];
      }
    ];
}
