# Mistakes in the router's options the module names at evaluation time,
# before any build: a cloud provider without its key, a key path that is
# not absolute, a LAN backend not said to be remote, a taken backend name, a
# route to a backend that is not there, a client name that cannot be a
# credential. A model routed twice is the router's own check, at build time
# (`hwc-ai-router --check-config`, checks/offline/run.sh).
{
  config.hwc.ai = {
    enable = true;
    cloud.openai.enable = true;
    router = {
      clientKeys = {
        "bad/name" = "/run/secrets/k";
        relative = "secrets/k";
      };
      backends = {
        gpu-box.baseUrl = "http://10.0.0.5:11434/v1";
        ollama.baseUrl = "http://127.0.0.1:11435/v1";
      };
      aliases.x = [ { backend = "anthropic"; } ];
      routes = [
        {
          model = "x";
          targets = "llama3.2:3b";
        }
      ];
    };
  };

  failedAssertions = [
    "hwc.ai.cloud.openai.apiKeyFile must be set"
    "hwc.ai.router.clientKeys.relative: `secrets/k` is not an absolute path"
    "hwc.ai.router: `bad/name` cannot name a credential"
    "hwc.ai.router.backends.gpu-box: `http://10.0.0.5:11434/v1` is not on this host; set remote = true"
    "hwc.ai.router.backends.ollama: the name is taken"
    "routes name backends that are not configured: anthropic"
  ];

  expect = _: [ ];
}
