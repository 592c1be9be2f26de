# The operator sets both hwc.ai.ollama.port and services.ollama.port, to
# different values: nixpkgs' own option wins (Ollama listens there, and
# hwc-ai talks to it there), and evaluation warns that hwc-ai's is unused.
{
  config = {
    hwc.ai.enable = true;
    hwc.ai.ollama.port = 11435;
    services.ollama.port = 11500;
  };

  expect =
    { config, lib }:
    [
      {
        what = "services.ollama.port wins, for Ollama and the router";
        got = {
          inherit (config.services.ollama) port;
          backends = map (b: b.baseUrl) config.hwc.ai.router.settings.backends;
        };
        want = {
          port = 11500;
          backends = [ "http://127.0.0.1:11500/v1" ];
        };
      }
      {
        what = "a warning names both options";
        got = config.warnings;
        want = [
          "hwc.ai.ollama.port = 11435 is overridden by services.ollama.port = 11500, which Ollama and hwc-ai use; set only one of them"
        ];
      }
    ];
}
