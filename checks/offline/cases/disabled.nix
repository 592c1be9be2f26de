# Importing the module changes nothing until `hwc.ai.enable` is set.
{
  config = { };

  expect =
    { config, lib }:
    [
      {
        what = "no units";
        got = lib.attrNames config.systemd.services;
        want = [ ];
      }
      {
        what = "no Ollama";
        got = config.services.ollama.enable;
        want = false;
      }
    ];
}
