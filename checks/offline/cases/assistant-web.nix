# hwc-ai-assistant with `web_fetch`: the hosts in the document, HTTPS only
# by default; a host written as an IP address is the one remote address
# the unit may reach besides its other peers.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        tools = [ "web_fetch" ];
        web = {
          hosts = [ "10.0.0.8:8443" ];
          timeout = "5s";
        };
      };
    };
  };

  expect =
    { config, lib }:
    [
      {
        what = "the web section of the document and the tool enabled";
        got = {
          inherit (config.hwc.ai.assistant.settings) web tools;
        };
        want = {
          web = {
            hosts = [ "10.0.0.8:8443" ];
            allowHttp = false;
            timeout = "5s";
          };
          tools = [ "web_fetch" ];
        };
      }
      {
        what = "the listed host the only remote address allowed";
        got = config.systemd.services.hwc-ai-assistant.serviceConfig.IPAddressAllow;
        want = [
          "localhost"
          "10.0.0.8"
        ];
      }
    ];
}
