# `hwc.ai.enable = true` and nothing else: Ollama and the router run, and
# the prober checks both with no further lines.
{
  config.hwc.ai.enable = true;

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-prober;
      settings = config.hwc.ai.prober.settings;
    in
    [
      {
        what = "Ollama runs through nixpkgs' services.ollama";
        got = {
          inherit (config.services.ollama) enable host port;
        };
        want = {
          enable = true;
          host = "127.0.0.1";
          port = 11434;
        };
      }
      {
        what = "the rendered document";
        got = settings;
        want = {
          listen = "127.0.0.1:9430";
          # no `defaults`: the prober's own interval, timeout and thresholds
          targets = [
            {
              name = "ollama";
              kind = "ollama";
              url = "http://127.0.0.1:11434";
            }
            {
              name = "hwc-ai-router";
              kind = "hwc-ai";
              url = "http://127.0.0.1:9432";
            }
          ];
        };
      }
      {
        what = "ExecStart runs the prober on the checked config";
        got = unit.serviceConfig.ExecStart;
        want = "/nix/store/00000000000000000000000000000000-hwc-ai/bin/hwc-ai-prober --config /nix/store/00000000000000000000000000000000-hwc-ai-prober.json";
      }
      {
        what = "the config is checked with --check-config at build time";
        got = lib.hasInfix "/bin/hwc-ai-prober --check-config --config /nix/store/00000000000000000000000000000000-hwc-ai-prober.json" config.hwc.ai.prober.configFile.buildCommand;
        want = true;
      }
      {
        what = "the unit's systemd contract";
        got = {
          inherit (unit.serviceConfig)
            Type
            NotifyAccess
            WatchdogSec
            Restart
            DynamicUser
            IPAddressDeny
            IPAddressAllow
            LoadCredential
            ;
        };
        want = {
          Type = "notify";
          NotifyAccess = "main";
          WatchdogSec = "30s";
          Restart = "on-failure";
          DynamicUser = true;
          IPAddressDeny = "any";
          IPAddressAllow = [ "localhost" ];
          LoadCredential = [ ];
        };
      }
      {
        what = "the hardening baseline is applied unchanged";
        got = lib.filterAttrs (k: v: unit.serviceConfig.${k} or null != v) (import ../../../modules/lib/hardening.nix);
        want = { };
      }
      {
        what = "ordering: after the network and Ollama, started at boot";
        got = {
          inherit (unit) after wants wantedBy;
        };
        want = {
          after = [
            "network-online.target"
            "ollama.service"
          ];
          wants = [ "network-online.target" ];
          wantedBy = [ "multi-user.target" ];
        };
      }
      {
        what = "no Prometheus, no scrape configs";
        got = config.services.prometheus.scrapeConfigs;
        want = [ ];
      }
      {
        what = "the firewall stays closed";
        got = config.networking.firewall.allowedTCPPorts;
        want = [ ];
      }
    ];
}
