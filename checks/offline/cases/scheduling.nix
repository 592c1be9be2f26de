# CPU weights: the router, the MCP gateway and the prober ahead of a
# CPU-bound neighbour (CPUWeight=1000), the puller and the assistant at
# systemd's default; an operator's Nice= and an override of the weight.
{
  config = {
    hwc.ai = {
      enable = true;
      models = [ "qwen3:8b" ];
      mcp.servers.time.command = "/run/current-system/sw/bin/mcp-server-time";
      prober.nice = -5;
      router.cpuWeight = 500;
    };
    systemd.services.hwc-ai-mcp.serviceConfig.CPUWeight = 200;
  };

  expect =
    { config, lib }:
    let
      scheduling =
        unit:
        lib.filterAttrs (name: _: lib.elem name [
          "CPUWeight"
          "Nice"
        ]) config.systemd.services.${unit}.serviceConfig;
    in
    [
      {
        what = "each running daemon's unit has its weight; the option and the unit's own setting win";
        got = lib.genAttrs [ "hwc-ai-router" "hwc-ai-mcp" "hwc-ai-prober" "hwc-ai-puller" ] scheduling;
        want = {
          hwc-ai-router.CPUWeight = 500;
          hwc-ai-mcp.CPUWeight = 200;
          hwc-ai-prober = {
            CPUWeight = 1000;
            Nice = -5;
          };
          hwc-ai-puller = { };
        };
      }
      {
        what = "a daemon that does not run gets no unit";
        got = config.systemd.services ? hwc-ai-assistant;
        want = false;
      }
      {
        what = "the wrapped MCP servers keep systemd's default";
        got = config.systemd.services.hwc-ai-mcp-server-time.serviceConfig ? CPUWeight;
        want = false;
      }
    ];
}
