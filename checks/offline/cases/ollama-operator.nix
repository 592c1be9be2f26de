# The operator sets nixpkgs' own `services.ollama` options, as nixpkgs
# documents them (a GPU build is a package, `pkgs.ollama-cuda`; Ollama on
# every address): they win over hwc-ai's defaults without "defined multiple
# times", and every hwc-ai daemon talks to the Ollama they describe.
{
  config =
    { pkgs, ... }:
    {
      hwc.ai.enable = true;
      services.ollama = {
        package = pkgs.ollama-cuda;
        host = "0.0.0.0";
        port = 11500;
      };
    };

  expect =
    { config, lib }:
    [
      {
        what = "services.ollama is the operator's";
        got = {
          inherit (config.services.ollama) enable host port;
          package = config.services.ollama.package.name;
        };
        want = {
          enable = true;
          host = "0.0.0.0";
          port = 11500;
          package = "ollama-cuda";
        };
      }
      {
        what = "the prober probes Ollama where it listens";
        got = lib.filter (t: t.name == "ollama") config.hwc.ai.prober.settings.targets;
        want = [
          {
            name = "ollama";
            kind = "ollama";
            url = "http://127.0.0.1:11500";
          }
        ];
      }
      {
        what = "the puller manages that Ollama";
        got = config.hwc.ai.puller.ollamaUrl;
        want = "http://127.0.0.1:11500";
      }
      {
        what = "no warning: hwc.ai.ollama.* are left at their defaults";
        got = config.warnings;
        want = [ ];
      }
      {
        what = "the router's backend is that Ollama";
        got = map (b: b.baseUrl) config.hwc.ai.router.settings.backends;
        want = [ "http://127.0.0.1:11500/v1" ];
      }
    ];
}
