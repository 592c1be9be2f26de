# Mistakes the module names at evaluation time, before any build.
{
  config.hwc.ai = {
    enable = true;
    health = {
      credentials.relative = "secrets/token";
      targets = [
        # Ollama is enabled, so an "ollama" target already exists
        {
          name = "ollama";
          kind = "ollama";
          url = "http://127.0.0.1:11434";
        }
        {
          name = "grafana";
          kind = "http";
          url = "http://127.0.0.1:3000/api/health";
          bearerToken.credential = "grafana-token";
        }
      ];
    };
  };

  failedAssertions = [
    "target names must be unique; repeated: ollama"
    "credentials used but not declared in hwc.ai.health.credentials: grafana-token"
    "hwc.ai.health.credentials.relative: `secrets/token` is not an absolute path"
  ];

  expect = _: [ ];
}
