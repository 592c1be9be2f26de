# The old layout (hwc.server.ai.*) still evaluates: each name with a
# counterpart sets the new option, with the warning nixpkgs gives for a
# renamed or changed option.
{
  config = {
    hwc.ai.enable = true;
    hwc.server.ai = {
      ollama = {
        enable = true;
        port = 11500;
        models = [ "llama3:8b" ];
      };
      open-webui = {
        enable = true;
        port = 3000;
        enableAuth = false;
        ragChunkSize = 1500;
        extraEnv.WEBUI_NAME = "HWC AI Assistant";
      };
    };
  };

  expect =
    { config, lib }:
    let
      warned = old: lib.any (w: lib.hasInfix old w) config.warnings;
    in
    [
      {
        what = "the new options hold the old values";
        got = {
          ollama = config.hwc.ai.ollama.port;
          models = config.hwc.ai.models;
          webui = with config.hwc.ai.open-webui; [ enable port ];
          inherit (config.services.open-webui.environment) WEBUI_AUTH CHUNK_SIZE WEBUI_NAME;
        };
        want = {
          ollama = 11500;
          models = [
            {
              name = "llama3:8b";
              autoUpdate = false;
              validate = true;
            }
          ];
          webui = [ true 3000 ];
          WEBUI_AUTH = "False";
          CHUNK_SIZE = "1500";
          WEBUI_NAME = "HWC AI Assistant";
        };
      }
      {
        what = "and what follows from them: services.ollama's port, Open WebUI's";
        got = [ config.services.ollama.port config.services.open-webui.port ];
        want = [ 11500 3000 ];
      }
      {
        what = "each old name used warns";
        got = map warned [
          "hwc.server.ai.ollama.port"
          "hwc.server.ai.ollama.models"
          "hwc.server.ai.open-webui.enable"
          "hwc.server.ai.open-webui.enableAuth"
          "hwc.server.ai.open-webui.extraEnv"
        ];
        want = [ true true true true true ];
      }
    ];
}
