# hwc-ai-assistant's gRPC API enabled: on loopback port 50052 in the
# document, the unit's loopback-only IP filter kept, the firewall closed
# (assistant-grpc-open.nix opens it).
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        clientKeys.discord-bot = "/run/secrets/assistant-key-discord";
        grpc.enable = true;
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
        what = "the document names the loopback gRPC listener; the unit keeps its loopback-only IP filter";
        got = {
          inherit (config.hwc.ai.assistant.settings) grpc listen;
          inherit (unit.serviceConfig) IPAddressDeny IPAddressAllow;
          firewall = config.networking.firewall.allowedTCPPorts;
        };
        want = {
          grpc.listen = "127.0.0.1:50052";
          listen = "127.0.0.1:9434";
          IPAddressDeny = "any";
          IPAddressAllow = [ "localhost" ];
          firewall = [ ];
        };
      }
    ];
}
