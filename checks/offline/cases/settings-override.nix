# `settings` overrides single fields of the document; the typed options fill
# in the rest.
{
  config.hwc.ai = {
    enable = true;
    prober = {
      interval = "10s";
      timeout = "7s";
      settings = {
        defaults.interval = "5s";
        log.level = "debug";
        maxConcurrentProbes = 8;
      };
    };
  };

  expect =
    { config, lib }:
    let
      settings = config.hwc.ai.prober.settings;
    in
    [
      {
        what = "one field overridden, its siblings kept";
        got = settings.defaults;
        want = {
          interval = "5s";
          timeout = "7s";
        };
      }
      {
        what = "fields without a typed option pass through";
        got = {
          inherit (settings) log maxConcurrentProbes;
        };
        want = {
          log.level = "debug";
          maxConcurrentProbes = 8;
        };
      }
    ];
}
