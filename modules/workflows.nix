# hwc.ai.workflows.<name>: declared AI jobs, run by hwc-ai-assistant
# (docs/workflows.md).
#
# Each declaration is a typed submodule mapped onto the assistant's
# document, `hwc.ai.assistant.settings.workflows.<name>`, at `mkDefault`
# priority: a field set there wins, and a workflow declared only there
# works as before. An option left `null` is left out of the document, so
# the daemon's own default applies; the daemon checks the whole
# declaration at build time (`--check-config`), naming the field. The
# assistant's module makes the timers and the unit's
# `ReadWritePaths`/`ReadOnlyPaths` from the document, so both ways of
# declaring get them.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  cfg = config.hwc.ai.workflows;
  settingsLib = import ./settings.nix { inherit lib pkgs; };
  inherit (settingsLib) defaultsDeep field defaultedField;

  json = settingsLib.format.type;
  assistant = import ./lib/assistant.nix;
  net = import ./lib/net.nix;

  # workflows calling MCP tools reach the gateway of this host, with the
  # key the gateway declares for the client `hwc-ai-assistant`
  mcp = config.hwc.ai.mcp;
  usesMcp = lib.any (w: w.mcpTools != null && w.mcpTools != [ ]) (lib.attrValues cfg);
  mcpKeyFile = mcp.clientKeys.hwc-ai-assistant or null;

  # workflow name -> its ntfy token's file
  tokenFiles = lib.mapAttrs (_: w: w.output.ntfy.tokenFile) (
    lib.filterAttrs (_: w: w.output.ntfy != null && w.output.ntfy.tokenFile != null) cfg
  );

  # A directory on the host: a string, never a Nix path (which would copy
  # the directory into the store).
  directory = description: field types.str description;

  destination = types.submodule {
    options = {
      directory = mkOption {
        type = types.str;
        example = "/srv/documents";
        description = "Where the matching files go (an absolute path).";
      };
      extensions = field (types.listOf types.str) "Extensions without the dot, any case, e.g. `[ \"pdf\" ]`.";
      types = field (types.listOf (
        types.enum [
          "pdf"
          "image"
          "archive"
          "audio"
          "video"
          "text"
          "binary"
        ]
      )) "Types sniffed from the file's first bytes.";
      nameContains = field (types.listOf types.str) "Words the file's name contains, any case.";
    };
  };

  ntfyTopic = types.submodule {
    options = {
      url = mkOption {
        type = types.str;
        example = "https://ntfy.sh/homelab";
        description = "The server and the topic.";
      };
      tokenFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/secrets/ntfy-token";
        description = ''
          An access token (`tk_...`), for a topic that needs one: an absolute
          path of a file on the host, loaded with `LoadCredential=`; a
          string, not a Nix path, so the token is never copied to the store.
        '';
      };
      priority = defaultedField (types.ints.between 1 5) "the server's, `3`" "1 (min) to 5 (max).";
    };
  };

  mcpCall = types.submodule {
    options = {
      server = mkOption {
        type = types.str;
        example = "time";
        description = "The MCP server's name in hwc-ai-mcp (`hwc.ai.mcp.servers`).";
      };
      tool = mkOption {
        type = types.str;
        example = "get_current_time";
        description = "The tool's name.";
      };
      arguments = mkOption {
        type = json;
        default = { };
        example = {
          timezone = "UTC";
        };
        description = "The tool's arguments.";
      };
    };
  };

  workflow = types.submodule {
    options = {
      kind = mkOption {
        type = types.enum [
          "prompt"
          "journal"
          "auto-doc"
          "file-triage"
        ];
        example = "journal";
        description = ''
          `prompt`: the `prompt` template with named `inputs`. `journal`: a
          dated Markdown digest of the host. `auto-doc`: a README per
          folder of `source`. `file-triage`: a plan (and, with `apply`,
          the moves) for the files of `inbox`.
        '';
      };
      description = field types.str "Shown in the list and the Open WebUI tool; each kind has its own.";
      prompt = field types.lines ''
        `prompt`: the template, `{{name}}` for each input. The other kinds:
        extra instructions to the model.
      '';
      inputs = field json ''
        The inputs' JSON schema (`type = "object"`); a run whose inputs
        fail it is refused. Every `{{name}}` of `prompt` is one of its
        `properties`.
      '';
      model = defaultedField types.str "the assistant's `router.model`" "A model or hwc-ai-router profile (so local first and fallback apply).";
      tools = field (types.listOf types.str) ''
        The assistant's read-only tools it may use (enabled in
        `hwc.ai.assistant.tools`). `journal`: which sections, all when
        unset.
      '';
      outputSchema = field json ''
        `prompt`: the answer's JSON schema; the router's `/execute`
        validates and repairs the answer.
      '';
      mcpTools = field (types.listOf mcpCall) ''
        `prompt`: tools of MCP servers, called through hwc-ai-mcp with
        these arguments before the model is asked, their results put
        before the prompt. With `hwc.ai.mcp` on this host, the assistant
        calls that gateway, with its client key named `hwc-ai-assistant`
        (`hwc.ai.mcp.clientKeys`) when there is one; otherwise set
        `hwc.ai.assistant.settings.mcp` (`url`, `apiKey`).
      '';
      output = {
        directory = directory ''
          Results are written here (a temporary file, then renamed). The
          assistant's unit may write it (`ReadWritePaths=`).
        '';
        journal = defaultedField types.bool "`false`" "Log the result to the assistant's journal.";
        webhook = field types.str ''
          POST the result here as JSON (`{workflow, run, message, data}`),
          e.g. `https://hooks.lan/homelab`. The URL is written to the Nix
          store, which every local user can read: put no secret in it.
        '';
        ntfy = mkOption {
          type = types.nullOr ntfyTopic;
          default = null;
          example = {
            url = "https://ntfy.lan/homelab";
            tokenFile = "/run/secrets/ntfy-token";
          };
          description = "Publish the result's text (Markdown, titled `hwc-ai workflow NAME`) to an ntfy topic.";
        };
      };
      budget = defaultedField types.str "the assistant's `agent.budget`" "The whole run's time, e.g. `2m`.";
      schedule = field types.str ''
        A systemd calendar expression (`daily`, `Mon *-*-* 07:00`): a
        timer `hwc-ai-workflow-NAME` runs the workflow through the
        assistant then (persistent, randomized by up to 5 minutes).
      '';
      source = directory ''
        `auto-doc`: the directory documented, read only (`ReadOnlyPaths=`).
      '';
      limits = {
        maxFileBytes = defaultedField types.ints.positive "`8192`" "`auto-doc`: bytes read of any one file.";
        maxTotalBytes = defaultedField types.ints.positive "`262144`" "`auto-doc`: bytes read in all.";
        maxEntries = defaultedField types.ints.positive "`200`" "`auto-doc`: folders documented; `file-triage`: files planned.";
      };
      inbox = directory ''
        `file-triage`: the directory whose files are sorted
        (`ReadWritePaths=`).
      '';
      destinations = mkOption {
        type = types.attrsOf destination;
        default = { };
        example = lib.literalExpression ''
          {
            documents = { directory = "/srv/documents"; types = [ "pdf" ]; };
            pictures = { directory = "/srv/pictures"; extensions = [ "jpg" "png" ]; };
          }
        '';
        description = ''
          `file-triage`: where files may go, by name; a file goes to the
          first (by name) whose rules match. Each directory is in
          `ReadWritePaths=`.
        '';
      };
      apply = defaultedField types.bool "`false`: runs only plan; a run may ask to apply" "`file-triage`: move the files on every run.";
    };
  };

  # A declaration as the assistant's document has it: unset fields and
  # empty sections left out (the JSON schemas as they are).
  nonNull = lib.filterAttrs (_: v: v != null);
  document =
    name: w:
    lib.filterAttrs (_: v: v != null && v != { }) (
      builtins.removeAttrs w [ "_module" ]
      // {
        output = nonNull (
          w.output
          // {
            ntfy =
              if w.output.ntfy == null then
                null
              else
                nonNull {
                  inherit (w.output.ntfy) url priority;
                  token =
                    if w.output.ntfy.tokenFile == null then
                      null
                    else
                      { credential = assistant.workflowNtfyTokenCredential name; };
                };
          }
        );
        limits = nonNull w.limits;
        destinations = lib.mapAttrs (_: nonNull) w.destinations;
        mcpTools =
          if w.mcpTools == null then null else map (c: builtins.removeAttrs c [ "_module" ]) w.mcpTools;
      }
    );
in
{
  options.hwc.ai.workflows = mkOption {
    type = types.attrsOf workflow;
    default = { };
    example = lib.literalExpression ''
      {
        daily = {
          kind = "journal";
          output.directory = "/srv/notes/journal";
          schedule = "*-*-* 06:30";
        };
        disk-report = {
          kind = "prompt";
          prompt = "Say in {{lines}} lines which filesystems need attention and why.";
          inputs = {
            type = "object";
            properties.lines = { type = "integer"; minimum = 1; };
            required = [ "lines" ];
          };
          tools = [ "disk_usage" ];
          output.webhook = "https://ntfy.lan/homelab";
          schedule = "Mon *-*-* 07:00";
        };
      }
    '';
    description = ''
      Workflows: AI jobs declared once and run by name through
      hwc-ai-assistant's API, its CLI (`hwc-ai workflow run NAME`), Open
      WebUI's tools and, with a `schedule`, a systemd timer
      (docs/workflows.md). The name is the API's and the timer's. Each is
      written to `hwc.ai.assistant.settings.workflows.<name>`, where any
      field may be overridden; the unit may write only the output
      directories, inboxes and destinations, and read each `source`.
    '';
  };

  config = lib.mkIf (cfg != { }) {
    warnings = lib.mapAttrsToList (
      name: _: "hwc.ai.workflows.${name}.output.ntfy.tokenFile is in the Nix store, which every local user can read"
    ) (lib.filterAttrs (_: lib.hasPrefix "/nix/store/") tokenFiles);

    assertions = lib.mapAttrsToList (name: path: {
      assertion = lib.hasPrefix "/" path;
      message = "hwc.ai.workflows.${name}.output.ntfy.tokenFile: `${path}` is not an absolute path";
    }) tokenFiles
    ++ [
      {
        assertion = config.hwc.ai.assistant.enable;
        message = "hwc.ai.workflows (${lib.concatStringsSep ", " (lib.attrNames cfg)}): workflows run in hwc-ai-assistant; set hwc.ai.assistant.enable = true";
      }
    ];

    hwc.ai.assistant.settings = {
      workflows = lib.mapAttrs (name: w: defaultsDeep (document name w)) cfg;
      mcp = lib.mkIf (usesMcp && mcp.enable) (
        defaultsDeep (
          {
            url = net.httpUrl mcp.listenAddress mcp.port;
          }
          // lib.optionalAttrs (mcpKeyFile != null) {
            apiKey.credential = assistant.mcpKeyCredential;
          }
        )
      );
    };

    # each ntfy token, for `{"credential": ...}` in the document; the
    # gateway's key
    systemd.services.hwc-ai-assistant.serviceConfig.LoadCredential =
      lib.mapAttrsToList (name: path: "${assistant.workflowNtfyTokenCredential name}:${path}") tokenFiles
      ++ lib.optional (
        usesMcp && mcp.enable && mcpKeyFile != null
      ) "${assistant.mcpKeyCredential}:${mcpKeyFile}";
  };
}
