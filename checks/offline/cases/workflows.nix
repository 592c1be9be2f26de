# hwc.ai.workflows.<name>, the typed declarations: each becomes the
# assistant's `settings.workflows.<name>` with only the fields set (the
# daemon's defaults apply to the rest), a field set in `settings` wins,
# and a workflow declared only in `settings` still counts; `mcpTools`
# keep their arguments (`{ }` when unset). The unit's
# ReadWritePaths/ReadOnlyPaths and the timers come from both; an ntfy
# token is a credential, the ntfy server an address the unit may reach.
{
  config = {
    hwc.ai = {
      enable = true;
      assistant = {
        enable = true;
        router.model = "llama3.2:3b";
        settings.workflows = {
          # declared the untyped way
          legacy = {
            kind = "journal";
            output.journal = true;
            schedule = "weekly";
          };
          # a typed field overridden
          disk-report.budget = "5m";
        };
      };
      workflows = {
        daily = {
          kind = "journal";
          output.directory = "/srv/notes/journal";
          output.ntfy = {
            url = "http://10.0.0.7/homelab";
            tokenFile = "/run/secrets/ntfy-token";
            priority = 4;
          };
          schedule = "*-*-* 06:30";
        };
        nixos-docs = {
          kind = "auto-doc";
          source = "/etc/nixos";
          output.directory = "/srv/notes/nixos";
          limits.maxEntries = 50;
        };
        downloads = {
          kind = "file-triage";
          inbox = "/srv/downloads";
          output.directory = "/srv/notes/triage";
          destinations.documents = {
            directory = "/srv/documents";
            types = [ "pdf" ];
          };
          apply = true;
        };
        disk-report = {
          kind = "prompt";
          prompt = "Say in {{lines}} lines which filesystems need attention.";
          inputs = {
            type = "object";
            properties.lines = {
              type = "integer";
              minimum = 1;
            };
            required = [ "lines" ];
          };
          model = "assistant";
          tools = [ "disk_usage" ];
          mcpTools = [
            {
              server = "time";
              tool = "get_current_time";
              arguments.timezone = "UTC";
            }
            {
              server = "time";
              tool = "now";
            }
          ];
          outputSchema = {
            type = "object";
            required = [ "attention" ];
          };
          output.webhook = "http://127.0.0.1:8090/homelab";
          budget = "2m";
        };
      };
    };
  };

  expect =
    { config, lib }:
    let
      doc = config.hwc.ai.assistant.settings.workflows;
      unit = config.systemd.services.hwc-ai-assistant;
    in
    [
      {
        what = "a typed declaration is the document's, unset fields left out";
        got = {
          inherit (doc) daily nixos-docs downloads;
        };
        want = {
          daily = {
            kind = "journal";
            output.directory = "/srv/notes/journal";
            output.ntfy = {
              url = "http://10.0.0.7/homelab";
              token.credential = "assistant-workflow-daily-ntfy-token";
              priority = 4;
            };
            schedule = "*-*-* 06:30";
          };
          nixos-docs = {
            kind = "auto-doc";
            source = "/etc/nixos";
            output.directory = "/srv/notes/nixos";
            limits.maxEntries = 50;
          };
          downloads = {
            kind = "file-triage";
            inbox = "/srv/downloads";
            output.directory = "/srv/notes/triage";
            destinations.documents = {
              directory = "/srv/documents";
              types = [ "pdf" ];
            };
            apply = true;
          };
        };
      }
      {
        what = "the schemas go through as written; a field set in settings wins over the typed one";
        got = doc.disk-report;
        want = {
          kind = "prompt";
          prompt = "Say in {{lines}} lines which filesystems need attention.";
          inputs = {
            type = "object";
            properties.lines = {
              type = "integer";
              minimum = 1;
            };
            required = [ "lines" ];
          };
          model = "assistant";
          tools = [ "disk_usage" ];
          mcpTools = [
            {
              server = "time";
              tool = "get_current_time";
              arguments.timezone = "UTC";
            }
            {
              server = "time";
              tool = "now";
              arguments = { };
            }
          ];
          outputSchema = {
            type = "object";
            required = [ "attention" ];
          };
          output.webhook = "http://127.0.0.1:8090/homelab";
          budget = "5m";
        };
      }
      {
        what = "a workflow declared only in settings is kept";
        got = doc.legacy;
        want = {
          kind = "journal";
          output.journal = true;
          schedule = "weekly";
        };
      }
      {
        what = "the sandbox follows the declarations: outputs, inbox and destinations writable, the auto-doc source read-only";
        got = {
          rw = lib.sort (a: b: a < b) unit.serviceConfig.ReadWritePaths;
          inherit (unit.serviceConfig) ReadOnlyPaths;
        };
        want = {
          rw = [
            "-/srv/documents"
            "-/srv/downloads"
            "-/srv/notes/journal"
            "-/srv/notes/nixos"
            "-/srv/notes/triage"
          ];
          ReadOnlyPaths = [ "-/etc/nixos" ];
        };
      }
      {
        what = "an ntfy token is a credential of the unit, and the ntfy server's address one the unit may reach";
        got = {
          credential = builtins.elem "assistant-workflow-daily-ntfy-token:/run/secrets/ntfy-token" unit.serviceConfig.LoadCredential;
          inherit (unit.serviceConfig) IPAddressAllow;
        };
        want = {
          credential = true;
          IPAddressAllow = [
            "localhost"
            "10.0.0.7"
          ];
        };
      }
      {
        what = "a timer for each scheduled workflow, typed or not";
        got = lib.mapAttrs (_: t: t.timerConfig.OnCalendar) config.systemd.timers;
        want = {
          hwc-ai-workflow-daily = "*-*-* 06:30";
          hwc-ai-workflow-legacy = "weekly";
        };
      }
    ];
}
