# hwc-ai-assistant with the read-only Kubernetes tools: the API server and
# its CA in the document, the token as a credential (never in the
# document or the store), and the API server's address the one remote
# address the unit's IP filter lets through.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        tools = [
          "k8s_pods"
          "k8s_events"
          "k8s_pod_logs"
        ];
        kubernetes = {
          url = "https://10.0.0.2:6443";
          tokenFile = "/run/secrets/k8s-reader-token";
          caFile = "/etc/hwc-ai/k8s-ca.pem";
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
        what = "the Kubernetes section of the document, the token by credential";
        got = {
          inherit (config.hwc.ai.assistant.settings) kubernetes tools;
        };
        want = {
          kubernetes = {
            url = "https://10.0.0.2:6443";
            caFile = "/etc/hwc-ai/k8s-ca.pem";
            token.credential = "assistant-k8s-token";
          };
          tools = [
            "k8s_pods"
            "k8s_events"
            "k8s_pod_logs"
          ];
        };
      }
      {
        what = "the token loaded as a credential; the API server the one remote address allowed";
        got = {
          inherit (unit.serviceConfig) LoadCredential IPAddressDeny IPAddressAllow;
        };
        want = {
          LoadCredential = [ "assistant-k8s-token:/run/secrets/k8s-reader-token" ];
          IPAddressDeny = "any";
          IPAddressAllow = [
            "localhost"
            "10.0.0.2"
          ];
        };
      }
    ];
}
