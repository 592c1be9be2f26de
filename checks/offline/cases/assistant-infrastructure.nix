# hwc-ai-assistant with the read-only Kubernetes, Argo CD and Vault tools: each
# server and its CA in the document, the tokens as credentials (never in
# the document or the store), and the servers' addresses the only remote
# addresses the unit's IP filter lets through.
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
          "argocd_apps"
          "vault_kv_keys"
        ];
        vault = {
          url = "https://10.0.0.4:8200";
          tokenFile = "/run/secrets/vault-metadata-token";
        };
        argocd = {
          url = "https://10.0.0.3";
          tokenFile = "/run/secrets/argocd-readonly-token";
          timeout = "5s";
        };
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
        what = "the Kubernetes, Argo CD and Vault sections of the document, the tokens by credential";
        got = {
          inherit (config.hwc.ai.assistant.settings) kubernetes argocd vault tools;
        };
        want = {
          kubernetes = {
            url = "https://10.0.0.2:6443";
            caFile = "/etc/hwc-ai/k8s-ca.pem";
            token.credential = "assistant-k8s-token";
          };
          argocd = {
            url = "https://10.0.0.3";
            timeout = "5s";
            token.credential = "assistant-argocd-token";
          };
          vault = {
            url = "https://10.0.0.4:8200";
            token.credential = "assistant-vault-token";
          };
          tools = [
            "k8s_pods"
            "k8s_events"
            "k8s_pod_logs"
            "argocd_apps"
            "vault_kv_keys"
          ];
        };
      }
      {
        what = "the tokens loaded as credentials; the three servers the only remote addresses allowed";
        got = {
          inherit (unit.serviceConfig) LoadCredential IPAddressDeny IPAddressAllow;
        };
        want = {
          LoadCredential = [
            "assistant-argocd-token:/run/secrets/argocd-readonly-token"
            "assistant-k8s-token:/run/secrets/k8s-reader-token"
            "assistant-vault-token:/run/secrets/vault-metadata-token"
          ];
          IPAddressDeny = "any";
          IPAddressAllow = [
            "localhost"
            "10.0.0.2"
            "10.0.0.3"
            "10.0.0.4"
          ];
        };
      }
    ];
}
