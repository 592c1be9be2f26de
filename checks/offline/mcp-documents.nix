# The MCP gateway's and wrappers' documents the NixOS module renders, built
# from the same pure functions (see cases/mcp-stdio.nix and
# cases/mcp-remote.nix). The offline checks validate each with `hwc-ai-mcp
# --check-config` (`hwc-ai-mcp wrap --check-config` for a wrapper's) and
# score the units that run them.
#
#   default: `hwc.ai.enable = true` and one stdio server, `time`
#   full: a stdio server with a secret, a remote one with a bearer token,
#     tool policies, client keys, browser origins; loopback trusted no more
#   wrap.<name>: the wrappers' documents (`hwc-ai-mcp-server-<name>.json`)
#   credentials: what the full document's units load, unit -> name -> path
let
  mcp = import ../../modules/lib/mcp.nix;

  listen = "127.0.0.1:9433";

  time = {
    command = "/run/current-system/sw/bin/mcp-server-time";
    args = [
      "--local-timezone"
      "UTC"
    ];
  };
  github = {
    command = "/run/current-system/sw/bin/github-mcp-server";
    args = [ "stdio" ];
    environment.GITHUB_TOOLSETS = "repos,issues";
    secretEnvironment.GITHUB_PERSONAL_ACCESS_TOKEN = "/run/secrets/github-token";
    initializeTimeout = "60s";
    tools.deny = [ "delete_*" ];
    readOnly = true;
  };
  docs = {
    url = "https://mcp.example.com/mcp";
    transport = "sse";
    headers.X-Team = "homelab";
    bearerTokenFile = "/run/secrets/mcp-docs-token";
    tools.allow = [
      "search_*"
      "get_*"
    ];
  };

  servers = {
    inherit time github docs;
  };
  clientKeys.open-webui = "/run/secrets/mcp-key-open-webui";
in
{
  default = mcp.document {
    inherit listen;
    servers = { inherit time; };
    allowedHosts = [
      "localhost"
      "127.0.0.1"
      "::1"
    ];
    checkInterval = "30s";
  };
  full = mcp.document {
    inherit listen servers clientKeys;
    allowUnauthenticatedLoopback = false;
    allowedOrigins = [ "http://localhost:8080" ];
    allowedHosts = [ ];
    checkInterval = "10s";
  };
  wrap = builtins.mapAttrs mcp.wrapDocument (mcp.stdioServers servers);
  credentials = {
    hwc-ai-mcp = mcp.credentials { inherit servers clientKeys; };
    hwc-ai-mcp-server-github = github.secretEnvironment;
  };
}
