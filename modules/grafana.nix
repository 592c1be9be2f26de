# Grafana shows the stack: this host's Prometheus as a data source and
# hwc-ai's dashboards, provisioned through nixpkgs' `services.grafana.provision`.
#
# Each daemon's dashboard lives next to the crate that exports its metrics
# (a renamed metric and its panel change in one place); the overview spans
# every daemon, so it belongs to no crate and lives here, with the module
# that ships it.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.hwc.ai.grafana;
  net = import ./lib/net.nix;
  prometheus = config.services.prometheus;

  shipped = {
    hwc-ai-overview = ./grafana/overview.json;
    hwc-ai-prober = ../crates/prober/grafana-dashboard.json;
    hwc-ai-puller = ../crates/puller/grafana-dashboard.json;
    hwc-ai-router = ../crates/router/grafana-dashboard.json;
    hwc-ai-mcp = ../crates/mcp/grafana-dashboard.json;
    hwc-ai-assistant = ../crates/assistant/grafana-dashboard.json;
  };

  # One directory in the store, one `<name>.json` per dashboard: what
  # Grafana's file provider reads.
  dashboardDir = pkgs.linkFarm "hwc-ai-grafana-dashboards" (
    lib.mapAttrsToList (name: path: {
      name = "${name}.json";
      inherit path;
    }) cfg.dashboards
  );
in
{
  options.hwc.ai.grafana = {
    enable = mkOption {
      type = types.bool;
      default = config.hwc.ai.enable && config.services.grafana.enable;
      defaultText = lib.literalExpression "config.hwc.ai.enable && config.services.grafana.enable";
      description = ''
        Whether this host's Grafana (`services.grafana`) gets a Prometheus
        data source and hwc-ai's dashboards, in a folder named `hwc-ai`
        (docs/monitoring.md lists them).
      '';
    };

    prometheusUrl = mkOption {
      type = types.nullOr types.str;
      default =
        if prometheus.enable then net.httpUrl prometheus.listenAddress prometheus.port else null;
      defaultText = lib.literalMD "this host's Prometheus (`services.prometheus.listenAddress` and `port`) when it runs one, else `null`";
      example = "http://prometheus.lan:9090";
      description = ''
        The Prometheus the provisioned data source queries. `null`
        provisions no data source: the dashboards then offer the Prometheus
        data sources Grafana already has.
      '';
    };

    datasourceName = mkOption {
      type = types.str;
      default = "hwc-ai Prometheus";
      description = "The provisioned data source's name (its uid is `hwc-ai-prometheus`).";
    };

    dashboards = mkOption {
      type = types.attrsOf types.path;
      default = shipped;
      defaultText = lib.literalMD "the overview and one dashboard per daemon";
      example = lib.literalExpression ''
        options.hwc.ai.grafana.dashboards.default // { my-board = ./my-board.json; }
      '';
      description = ''
        The dashboards provisioned, by file name (without `.json`). Setting
        it replaces the shipped ones; merge with the default to add yours.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    services.grafana.provision = {
      enable = true;
      datasources.settings.datasources = lib.optional (cfg.prometheusUrl != null) {
        name = cfg.datasourceName;
        uid = "hwc-ai-prometheus";
        type = "prometheus";
        url = cfg.prometheusUrl;
        # The scrape interval, from which Grafana's $__rate_interval is
        # computed: Grafana's guess (15 s) against nixpkgs' default
        # scrape (1 m) would leave rate() windows with one sample.
        jsonData = lib.optionalAttrs prometheus.enable {
          timeInterval =
            if prometheus.globalConfig.scrape_interval != null then
              prometheus.globalConfig.scrape_interval
            else
              "1m";
        };
      };
      dashboards.settings.providers = [
        {
          name = "hwc-ai";
          folder = "hwc-ai";
          # The files are in the store: edits in the UI could not be saved.
          allowUiUpdates = false;
          disableDeletion = true;
          options.path = dashboardDir;
        }
      ];
    };
  };
}
