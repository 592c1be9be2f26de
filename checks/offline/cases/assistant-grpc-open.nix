# hwc-ai-assistant's gRPC API opened to the network: its address in the
# document, its port in the firewall, and no IP filter on the unit (its
# callers come from addresses the module cannot know), as for an HTTP
# listener beyond loopback; the HTTP API stays on loopback and closed.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        clientKeys.discord-bot = "/run/secrets/assistant-key-discord";
        grpc = {
          enable = true;
          listenAddress = "0.0.0.0";
          port = 50100;
          openFirewall = true;
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
        what = "the gRPC listener on the network, in the firewall, without an IP filter";
        got = {
          inherit (config.hwc.ai.assistant.settings) grpc listen;
          ipFilter = unit.serviceConfig ? IPAddressDeny;
          firewall = config.networking.firewall.allowedTCPPorts;
        };
        want = {
          grpc.listen = "0.0.0.0:50100";
          listen = "127.0.0.1:9434";
          ipFilter = false;
          firewall = [ 50100 ];
        };
      }
    ];
}
