# Resource limits on every unit: each daemon of lib/daemons.nix (the table,
# so none is forgotten) renders its `hwc.ai.<daemon>.limits` defaults as
# MemoryMax=, TasksMax= and LimitNOFILE=, and an option set by the operator
# (here every daemon's memoryHigh) reaches its unit; `null` leaves the key
# out, and the operator's own `serviceConfig` key wins over the option. A
# wrapped MCP server has its own (`sandbox.*`).
let
  daemons = import ../../../modules/lib/daemons.nix;
in
{
  config = {
    imports = [
      {
        hwc.ai = builtins.listToAttrs (
          map (d: {
            inherit (d) name;
            value.limits.memoryHigh = "100M";
          }) (builtins.filter (d: d.name != "router") daemons.all)
        );
      }
    ];
    hwc.ai = {
      enable = true;
      models = [ "llama3.2:3b" ];
      mcp.servers.time = {
        command = "/run/current-system/sw/bin/mcp-server-time";
        sandbox.tasksMax = 32;
      };
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
      };
      router.limits = {
        memoryMax = "2G";
        memoryHigh = "1536M";
        openFiles = 65536;
        tasksMax = null;
      };
    };
    systemd.services.hwc-ai-puller.serviceConfig.MemoryMax = "64M";
  };

  expect =
    { config, lib }:
    let
      limitsOf =
        unit:
        lib.filterAttrs (
          name: _:
          lib.elem name [
            "MemoryMax"
            "MemoryHigh"
            "TasksMax"
            "LimitNOFILE"
          ]
        ) config.systemd.services.${unit}.serviceConfig;
      defaults = daemon: {
        MemoryHigh = "100M";
        MemoryMax = daemon.limits.memoryMax;
        TasksMax = daemon.limits.tasksMax;
        LimitNOFILE = daemon.limits.openFiles;
      };
      untouched = lib.filter (d: d.name != "router" && d.name != "puller") daemons.all;
    in
    [
      {
        what = "every other daemon's unit has its default limits and the memoryHigh set";
        got = map (d: limitsOf d.unit) untouched;
        want = map defaults untouched;
      }
      {
        what = "the defaults are limits, none unset";
        got = lib.all (d: d.limits.memoryMax != null && d.limits.tasksMax != null && d.limits.openFiles != null) daemons.all;
        want = true;
      }
      {
        what = "the router's options reach its unit; tasksMax = null leaves TasksMax= out";
        got = limitsOf "hwc-ai-router";
        want = {
          MemoryMax = "2G";
          MemoryHigh = "1536M";
          LimitNOFILE = 65536;
        };
      }
      {
        what = "the operator's serviceConfig.MemoryMax wins over the option's default";
        got = limitsOf "hwc-ai-puller";
        want = (defaults daemons.puller) // {
          MemoryMax = "64M";
        };
      }
      {
        what = "a wrapped MCP server has its sandbox's limits";
        got = limitsOf "hwc-ai-mcp-server-time";
        want = {
          MemoryMax = "512M";
          TasksMax = 32;
          LimitNOFILE = 4096;
        };
      }
    ];
}
