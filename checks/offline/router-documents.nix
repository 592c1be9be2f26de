# The router documents the NixOS module renders, built from the same pure
# functions (see cases/router.nix and cases/router-cloud.nix). The offline
# checks validate each with `hwc-ai-router --check-config` and score the
# unit that runs it.
#
#   default: `hwc.ai.enable = true` and nothing else: the local Ollama only
#   cloud: OpenAI and Anthropic enabled, an alias, a client key, a profile,
#     and the debug log
let
  router = import ../../modules/lib/router.nix;

  local = {
    listen = "127.0.0.1:9432";
    ollamaUrl = "http://127.0.0.1:11434";
  };

  cloud = {
    openai.apiKeyFile = "/run/secrets/openai-api-key";
    anthropic.apiKeyFile = "/run/secrets/anthropic-api-key";
  };
  clientKeys.open-webui = "/run/secrets/router-key-open-webui";
in
{
  default = router.document local;
  cloud = router.document (
    local
    // {
      inherit cloud clientKeys;
      debugRequests = true;
      profiles.custodian-triage-balanced = {
        targets = [
          {
            backend = "ollama";
            model = "qwen3:8b";
          }
          {
            backend = "anthropic";
            model = "claude-sonnet-4-5";
          }
        ];
        temperature = 0.2;
        maxTokens = 2048;
        timeout = "120s";
        reasoningEffort = "medium";
        maxDepth = 4;
        params.top_p = 0.9;
        schemaRepairs = 2;
        strictSchema = true;
      };
      aliases = {
        local-fast = "llama3.2:3b";
        smart = [
          {
            backend = "ollama";
            model = "qwen3:8b";
            firstByteTimeout = "20s";
          }
          {
            backend = "openai";
            model = "gpt-4o-mini";
          }
        ];
      };
    }
  );
  # what the cloud document's unit loads, as `--credential` arguments
  cloudCredentials = router.credentials { inherit cloud clientKeys; };
}
