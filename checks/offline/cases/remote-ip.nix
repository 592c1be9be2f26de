# A remote target given as an IP address: the IP filter allows exactly it.
{
  config.hwc.ai = {
    enable = true;
    prober = {
      openFirewall = true;
      targets = [
        {
          name = "postgres";
          kind = "tcp";
          address = "192.0.2.10:5432";
        }
      ];
    };
  };

  expect =
    { config, lib }:
    [
      {
        what = "loopback plus the target's address";
        got = {
          inherit (config.systemd.services.hwc-ai-prober.serviceConfig) IPAddressDeny IPAddressAllow;
        };
        want = {
          IPAddressDeny = "any";
          IPAddressAllow = [
            "localhost"
            "192.0.2.10"
          ];
        };
      }
      {
        what = "openFirewall opens the prober's port";
        got = config.networking.firewall.allowedTCPPorts;
        want = [ 9430 ];
      }
    ];
}
