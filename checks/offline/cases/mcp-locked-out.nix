# Loopback no longer trusted and no client key: no client could call the
# gateway, which the module says before the daemon would refuse the
# document.
{
  config.hwc.ai = {
    enable = true;
    mcp = {
      allowUnauthenticatedLoopback = false;
      servers.docs.url = "http://127.0.0.1:8808/mcp";
    };
  };

  failedAssertions = [
    "hwc.ai.mcp: allowUnauthenticatedLoopback = false and no clientKeys: no client could call the gateway"
  ];

  expect = _: [ ];
}
