# hwc.ai.open-webui without the rest of the stack has no model to offer:
# the build says what to turn on.
{
  config.hwc.ai.open-webui.enable = true;

  failedAssertions = [ "hwc.ai.open-webui: no model connection: enable the router (hwc.ai.enable)" ];

  expect = { config, lib }: [ ];
}
