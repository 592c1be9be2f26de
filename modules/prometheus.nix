# Prometheus scrapes every hwc-ai daemon, and evaluates hwc-ai's alert rules
# (prometheus/alert-rules.yml), when this host runs Prometheus.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.hwc.ai.prometheus;
  net = import ./lib/net.nix;

  scraped = lib.filterAttrs (_: daemon: daemon.scrape) config.hwc.ai.internal.daemons;
in
{
  options.hwc.ai.prometheus = {
    scrape = mkOption {
      type = types.bool;
      default = config.hwc.ai.enable && config.services.prometheus.enable;
      defaultText = lib.literalExpression "config.hwc.ai.enable && config.services.prometheus.enable";
      description = "Whether this host's Prometheus (`services.prometheus`) scrapes the hwc-ai daemons.";
    };

    alertRules = mkOption {
      type = types.bool;
      default = cfg.scrape;
      defaultText = lib.literalExpression "config.hwc.ai.prometheus.scrape";
      description = ''
        Whether this host's Prometheus evaluates hwc-ai's alert rules
        (`modules/prometheus/alert-rules.yml`, listed in docs/monitoring.md).
        They select the scrape jobs by their names (`hwc-ai-*`, as `scrape`
        sets them up). Where the alerts go is the operator's
        `services.prometheus.alertmanagers`.
      '';
    };

    scrapeConfigs = mkOption {
      type = types.listOf (types.attrsOf types.anything);
      default = lib.mapAttrsToList (name: daemon: {
        job_name = name;
        static_configs = [ { targets = [ (net.localAddress daemon.listen) ]; } ];
      }) scraped;
      defaultText = lib.literalMD "one job per enabled hwc-ai daemon, named after its unit";
      description = "The scrape configs added to `services.prometheus.scrapeConfigs`.";
    };
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.scrape {
      services.prometheus.scrapeConfigs = cfg.scrapeConfigs;
    })
    # A file of its own (`ruleFiles`), not a string in `rules`: nixpkgs joins
    # every `rules` string into one YAML document, where a second top-level
    # `groups:` key of the operator's would make it invalid.
    (lib.mkIf cfg.alertRules {
      services.prometheus.ruleFiles = [ ./prometheus/alert-rules.yml ];
    })
  ];
}
