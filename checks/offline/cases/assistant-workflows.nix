# Workflows declared in the assistant's document: the unit may write their
# output directories and a file-triage's inbox and destinations, and read
# an auto-doc's source (missing ones do not stop it: "-"); a workflow
# with a `schedule` gets a persistent, randomized timer whose oneshot
# service asks the running assistant, with a client key when loopback
# needs one.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        allowUnauthenticatedLoopback = false;
        clientKeys.ops = "/run/secrets/assistant-key-ops";
        settings.workflows = {
          daily = {
            kind = "journal";
            output.directory = "/srv/notes/journal";
            schedule = "daily";
          };
          nixos-docs = {
            kind = "auto-doc";
            source = "/etc/nixos";
            output.directory = "/srv/notes/nixos";
          };
          downloads = {
            kind = "file-triage";
            inbox = "/srv/downloads";
            output.directory = "/srv/notes/journal";
            destinations.documents = {
              directory = "/srv/documents";
              types = [ "pdf" ];
            };
            schedule = "Mon *-*-* 07:00";
          };
        };
      };
    };
  };

  expect =
    { config, lib }:
    let
      unit = config.systemd.services.hwc-ai-assistant;
      timer = config.systemd.timers.hwc-ai-workflow-daily;
      run = config.systemd.services.hwc-ai-workflow-daily;
    in
    [
      {
        what = "the unit writes only the declared directories besides its state, and reads the auto-doc source";
        got = {
          inherit (unit.serviceConfig) ReadWritePaths ReadOnlyPaths StateDirectory;
        };
        want = {
          ReadWritePaths = [
            "-/srv/notes/journal"
            "-/srv/downloads"
            "-/srv/documents"
            "-/srv/notes/nixos"
          ];
          ReadOnlyPaths = [ "-/etc/nixos" ];
          StateDirectory = "hwc-ai-assistant";
        };
      }
      {
        what = "one timer per scheduled workflow (persistent, randomized); its service asks the assistant with a key";
        got = {
          timers = lib.attrNames config.systemd.timers;
          inherit (timer.timerConfig) OnCalendar Persistent RandomizedDelaySec;
          wantedBy = timer.wantedBy;
          exec = lib.hasSuffix "/hwc-ai workflow run daily --url http://127.0.0.1:9434 --key-file %d/key" run.serviceConfig.ExecStart;
          inherit (run.serviceConfig) Type LoadCredential;
        };
        want = {
          timers = [
            "hwc-ai-workflow-daily"
            "hwc-ai-workflow-downloads"
          ];
          OnCalendar = "daily";
          Persistent = true;
          RandomizedDelaySec = "5m";
          wantedBy = [ "timers.target" ];
          exec = true;
          Type = "oneshot";
          LoadCredential = [ "key:/run/secrets/assistant-key-ops" ];
        };
      }
    ];
}
