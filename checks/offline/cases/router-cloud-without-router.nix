# A cloud provider with the router turned off would do nothing: the module
# says so instead of ignoring it.
{
  config.hwc.ai = {
    enable = true;
    router.enable = false;
    cloud.anthropic = {
      enable = true;
      apiKeyFile = "/run/secrets/anthropic-api-key";
    };
  };

  failedAssertions = [ "hwc.ai.cloud.anthropic.enable: the cloud providers are reached through hwc-ai-router" ];

  expect =
    { config, lib }:
    [
      {
        what = "no router unit, no router target";
        got = {
          unit = config.systemd.services ? hwc-ai-router;
          probed = lib.any (t: t.name == "hwc-ai-router") config.hwc.ai.prober.settings.targets;
        };
        want = {
          unit = false;
          probed = false;
        };
      }
    ];
}
