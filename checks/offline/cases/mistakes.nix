# Mistakes the module names at evaluation time, before any build.
{
  config.hwc.ai = {
    enable = true;
    prober = {
      credentials.relative = "secrets/token";
      targets = [
        # Ollama is enabled, so an "ollama" target already exists: a
        # repeated name is the prober's own check (`--check-config`, at
        # build time), not the module's
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
    "credentials used but not declared in hwc.ai.prober.credentials: grafana-token"
    "hwc.ai.prober.credentials.relative: `secrets/token` is not an absolute path"
  ];

  expect = _: [ ];
}
