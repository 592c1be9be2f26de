# hwc-ai-assistant with the forge tools and draft pull requests: the
# token a credential (never in the document or the store), git from the
# store, the repositories drafts may go to in the document, and the forge
# and a draft's git remote the only remote addresses the unit may reach.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        forge = {
          url = "https://10.0.0.5:3000";
          tokenFile = "/run/secrets/forgejo-assistant-token";
          caFile = "/etc/hwc-ai/lan-ca.pem";
          drafts = {
            enable = true;
            repositories = [ "ops/runbooks" ];
            gitUrl = "https://10.0.0.6/{repo}.git";
          };
        };
      };
    };
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-assistant;
    in
    [
      {
        what = "the forge section of the document: the token by credential, drafts with git from the store";
        got = config.hwc.ai.assistant.settings.forge;
        want = {
          url = "https://10.0.0.5:3000";
          caFile = "/etc/hwc-ai/lan-ca.pem";
          token.credential = "assistant-forge-token";
          drafts = {
            enable = true;
            repositories = [ "ops/runbooks" ];
            gitUrl = "https://10.0.0.6/{repo}.git";
            git = "/nix/store/00000000000000000000000000000000-git/bin/git";
          };
        };
      }
      {
        what = "the forge's token loaded as a credential; the forge and the git remote the only remote addresses allowed";
        got = {
          inherit (unit.serviceConfig) LoadCredential IPAddressAllow;
        };
        want = {
          LoadCredential = [ "assistant-forge-token:/run/secrets/forgejo-assistant-token" ];
          IPAddressAllow = [
            "localhost"
            "10.0.0.5"
            "10.0.0.6"
          ];
        };
      }
    ];
}
