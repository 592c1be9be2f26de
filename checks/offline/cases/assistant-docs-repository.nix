# hwc-ai-assistant with a docs repository: its URL, branch and interval in
# the document with git from the store, its token a credential, and its
# host the one remote address the unit may reach besides its other peers.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        docsRepository = {
          url = "https://10.0.0.9/ops/runbooks.git";
          branch = "production";
          tokenFile = "/run/secrets/runbooks-read-token";
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
        what = "the docsRepository section of the document: the token by credential, git from the store";
        got = config.hwc.ai.assistant.settings.docsRepository;
        want = {
          url = "https://10.0.0.9/ops/runbooks.git";
          branch = "production";
          token.credential = "assistant-docs-repository-token";
          git = "/nix/store/00000000000000000000000000000000-git/bin/git";
        };
      }
      {
        what = "the token loaded as a credential; the repository's host the only remote address allowed";
        got = {
          inherit (unit.serviceConfig) LoadCredential IPAddressAllow;
        };
        want = {
          LoadCredential = [ "assistant-docs-repository-token:/run/secrets/runbooks-read-token" ];
          IPAddressAllow = [
            "localhost"
            "10.0.0.9"
          ];
        };
      }
    ];
}
