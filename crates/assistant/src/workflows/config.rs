//! A workflow's declaration (`workflows.<name>` in the assistant's config)
//! and its checks. Every error names the field: `workflows.notes.inputs: ...`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hwc_ai_runtime::config::{check_name, check_positive};
use hwc_ai_runtime::{ConfigError, SecretSource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tools::ToolName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The operator's prompt, with `{{input}}` placeholders.
    Prompt,
    /// A dated Markdown digest of the host.
    Journal,
    /// A README-style summary per folder of a declared directory.
    AutoDoc,
    /// A plan (and, opt-in, the moves) for the files of an inbox.
    FileTriage,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Prompt => "prompt",
            Kind::Journal => "journal",
            Kind::AutoDoc => "auto-doc",
            Kind::FileTriage => "file-triage",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workflow {
    pub kind: Kind,
    /// What it does, for the listing and the tool server.
    #[serde(default)]
    pub description: Option<String>,
    /// The prompt template (`prompt` kind; for the others, extra
    /// instructions to the model).
    #[serde(default)]
    pub prompt: Option<String>,
    /// The inputs' JSON schema; no inputs when absent.
    #[serde(default)]
    pub inputs: Option<Value>,
    /// A model or router profile; the assistant's `router.model` when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The read-only tools it may use.
    #[serde(default)]
    pub tools: Vec<ToolName>,
    /// `prompt`: tools of MCP servers, called through hwc-ai-mcp with the
    /// declared arguments before the model is asked (`mcp.rs`).
    #[serde(default)]
    pub mcp_tools: Vec<super::mcp::McpCall>,
    /// The answer's JSON schema: then it goes through the router's
    /// `/execute`, which validates and repairs it.
    #[serde(default)]
    pub output_schema: Option<Value>,
    #[serde(default)]
    pub output: Output,
    /// The whole run's time; the assistant's `agent.budget` when absent.
    #[serde(default, with = "humantime_serde")]
    pub budget: Option<Duration>,
    /// A systemd calendar expression; read by the NixOS module, which
    /// makes the timer. The daemon keeps it for the listing.
    #[serde(default)]
    pub schedule: Option<String>,
    /// auto-doc: the directory documented (read only).
    #[serde(default)]
    pub source: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    /// file-triage: the directory whose files are sorted.
    #[serde(default)]
    pub inbox: Option<PathBuf>,
    /// file-triage: where files may go, by name.
    #[serde(default)]
    pub destinations: BTreeMap<String, Destination>,
    /// file-triage: move the files on every run (otherwise only when a
    /// run asks for it).
    #[serde(default)]
    pub apply: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    /// Files are written here (a temporary file, then renamed).
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// The result is logged to the daemon's journal.
    #[serde(default)]
    pub journal: bool,
    /// The result is POSTed here as JSON (`{workflow, run, message, data}`).
    #[serde(default)]
    pub webhook: Option<url::Url>,
    /// The result's text is published to an ntfy topic.
    #[serde(default)]
    pub ntfy: Option<Ntfy>,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.directory.is_none() && !self.journal && self.webhook.is_none() && self.ntfy.is_none()
    }
}

/// An ntfy topic (ntfy.sh or a server of one's own): the result's text as
/// the message, Markdown, titled with the workflow's name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ntfy {
    /// The server and the topic: `https://ntfy.lan/homelab`.
    pub url: url::Url,
    /// An access token, for a topic that needs one. Read at start; never
    /// shown (the describe API leaves it out).
    #[serde(default, skip_serializing)]
    pub token: Option<SecretSource>,
    /// 1 (min) to 5 (max); the server's default, 3, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

impl Ntfy {
    fn check(&self, at: &str) -> Result<(), ConfigError> {
        let topic = self.url.path().trim_matches('/');
        if !matches!(self.url.scheme(), "http" | "https") {
            return Err(ConfigError::at(
                format!("{at}.url"),
                format!("`{}` is not an http(s) URL", self.url),
            ));
        }
        if topic.is_empty() || topic.contains('/') {
            return Err(ConfigError::at(
                format!("{at}.url"),
                format!(
                    "`{}` does not name one topic: write the server and the topic, e.g. `https://ntfy.sh/homelab`",
                    self.url
                ),
            ));
        }
        if let Some(priority) = self.priority {
            if !(1..=5).contains(&priority) {
                return Err(ConfigError::at(
                    format!("{at}.priority"),
                    format!("{priority} is not one of ntfy's priorities, 1 (min) to 5 (max)"),
                ));
            }
        }
        if let Some(token) = &self.token {
            token.check(&format!("{at}.token"))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// auto-doc: bytes read of any one file.
    #[serde(default = "default_file_bytes")]
    pub max_file_bytes: u64,
    /// auto-doc: bytes read in all.
    #[serde(default = "default_total_bytes")]
    pub max_total_bytes: u64,
    /// auto-doc: folders documented; file-triage: files planned.
    #[serde(default = "default_entries")]
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: default_file_bytes(),
            max_total_bytes: default_total_bytes(),
            max_entries: default_entries(),
        }
    }
}

/// Enough of a file for a model to tell what it is: a README's first
/// screens, a config's head.
fn default_file_bytes() -> u64 {
    8 * 1024
}

/// A small local model's context holds a few tens of KiB; more is cut.
fn default_total_bytes() -> u64 {
    256 * 1024
}

/// Keeps one run's model calls and plan bounded.
fn default_entries() -> usize {
    200
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    pub directory: PathBuf,
    /// Extensions (without the dot, any case), e.g. `["pdf", "docx"]`.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Types sniffed from the content: `pdf`, `image`, `archive`,
    /// `audio`, `video`, `text`.
    #[serde(default)]
    pub types: Vec<String>,
    /// Words the file name contains (any case), e.g. `["invoice"]`.
    #[serde(default)]
    pub name_contains: Vec<String>,
}

pub const SNIFFED_TYPES: [&str; 7] = [
    "pdf", "image", "archive", "audio", "video", "text", "binary",
];

fn absolute(field: &str, path: &Path) -> Result<(), ConfigError> {
    if path.is_absolute()
        && !path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        Ok(())
    } else {
        Err(ConfigError::at(
            field,
            format!("`{}` is not an absolute path without `..`", path.display()),
        ))
    }
}

impl Workflow {
    /// Checks one declaration; `at` is its field path (`workflows.NAME`).
    pub fn check(&self, at: &str, name: &str) -> Result<(), ConfigError> {
        check_name(at, name)?;
        let field = |f: &str| format!("{at}.{f}");
        if let Some(budget) = self.budget {
            check_positive(&field("budget"), budget)?;
        }
        if let Some(schema) = &self.inputs {
            if schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(ConfigError::at(
                    field("inputs"),
                    "must be a JSON schema of `\"type\": \"object\"` (the inputs are named)",
                ));
            }
            jsonschema::validator_for(schema)
                .map_err(|e| ConfigError::at(field("inputs"), format!("not a JSON schema: {e}")))?;
        }
        if let Some(schema) = &self.output_schema {
            jsonschema::validator_for(schema).map_err(|e| {
                ConfigError::at(field("outputSchema"), format!("not a JSON schema: {e}"))
            })?;
            if !matches!(self.kind, Kind::Prompt) {
                return Err(ConfigError::at(
                    field("outputSchema"),
                    format!(
                        "only a `prompt` workflow has one, not `{}`",
                        self.kind.as_str()
                    ),
                ));
            }
        }
        if let Some(dir) = &self.output.directory {
            absolute(&field("output.directory"), dir)?;
        }
        for (i, call) in self.mcp_tools.iter().enumerate() {
            call.check(&field(&format!("mcpTools[{i}]")))?;
        }
        if !self.mcp_tools.is_empty() && !matches!(self.kind, Kind::Prompt) {
            return Err(ConfigError::at(
                field("mcpTools"),
                format!(
                    "only a `prompt` workflow has this field, not `{}`",
                    self.kind.as_str()
                ),
            ));
        }
        if let Some(url) = &self.output.webhook {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::at(
                    field("output.webhook"),
                    format!("`{url}` is not an http(s) URL"),
                ));
            }
        }
        if let Some(ntfy) = &self.output.ntfy {
            ntfy.check(&field("output.ntfy"))?;
        }
        if let Some(schedule) = &self.schedule {
            if schedule.trim().is_empty() || schedule.contains('\n') {
                return Err(ConfigError::at(
                    field("schedule"),
                    "must be a systemd calendar expression, e.g. `daily`",
                ));
            }
        }
        let only = |present: bool, f: &str, kind: &str| {
            if present {
                Err(ConfigError::at(
                    field(f),
                    format!(
                        "only a `{kind}` workflow has this field, not `{}`",
                        self.kind.as_str()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        match self.kind {
            Kind::Prompt => {
                let prompt = self.prompt.as_deref().unwrap_or("");
                if prompt.trim().is_empty() {
                    return Err(ConfigError::at(
                        field("prompt"),
                        "a `prompt` workflow needs its prompt",
                    ));
                }
                check_placeholders(&field("prompt"), prompt, self.inputs.as_ref())?;
                if self.output.is_empty() {
                    return Err(ConfigError::at(
                        field("output"),
                        "say where results go: `directory`, `journal`, `webhook` or `ntfy`",
                    ));
                }
            }
            Kind::Journal => {
                if self.output.is_empty() {
                    return Err(ConfigError::at(
                        field("output"),
                        "say where the digest goes: `directory`, `journal`, `webhook` or `ntfy`",
                    ));
                }
            }
            Kind::AutoDoc => {
                let Some(source) = &self.source else {
                    return Err(ConfigError::at(
                        field("source"),
                        "an `auto-doc` workflow needs the directory it documents",
                    ));
                };
                absolute(&field("source"), source)?;
                let Some(out) = &self.output.directory else {
                    return Err(ConfigError::at(
                        field("output.directory"),
                        "an `auto-doc` workflow writes its READMEs into a directory",
                    ));
                };
                if out.starts_with(source) {
                    return Err(ConfigError::at(
                        field("output.directory"),
                        format!(
                            "`{}` is inside the source `{}`, which is only read",
                            out.display(),
                            source.display()
                        ),
                    ));
                }
            }
            Kind::FileTriage => {
                let Some(inbox) = &self.inbox else {
                    return Err(ConfigError::at(
                        field("inbox"),
                        "a `file-triage` workflow needs its inbox directory",
                    ));
                };
                absolute(&field("inbox"), inbox)?;
                if self.destinations.is_empty() {
                    return Err(ConfigError::at(
                        field("destinations"),
                        "a `file-triage` workflow needs at least one destination",
                    ));
                }
                for (dest, d) in &self.destinations {
                    let at = field(&format!("destinations.{dest}"));
                    check_name(&at, dest)?;
                    absolute(&format!("{at}.directory"), &d.directory)?;
                    if d.directory == *inbox
                        || d.directory.starts_with(inbox)
                        || inbox.starts_with(&d.directory)
                    {
                        return Err(ConfigError::at(
                            format!("{at}.directory"),
                            "must be beside the inbox, not inside it or above it",
                        ));
                    }
                    if d.extensions.is_empty() && d.types.is_empty() && d.name_contains.is_empty() {
                        return Err(ConfigError::at(
                            at,
                            "say which files go there: `extensions`, `types` or `nameContains`",
                        ));
                    }
                    for (i, t) in d.types.iter().enumerate() {
                        if !SNIFFED_TYPES.contains(&t.as_str()) {
                            return Err(ConfigError::at(
                                format!("{at}.types[{i}]"),
                                format!("`{t}` is not one of {}", SNIFFED_TYPES.join(", ")),
                            ));
                        }
                    }
                }
            }
        }
        if !matches!(self.kind, Kind::AutoDoc) {
            only(self.source.is_some(), "source", "auto-doc")?;
        }
        if !matches!(self.kind, Kind::FileTriage) {
            only(self.inbox.is_some(), "inbox", "file-triage")?;
            only(!self.destinations.is_empty(), "destinations", "file-triage")?;
            only(self.apply, "apply", "file-triage")?;
        }
        Ok(())
    }
}

/// Every `{{name}}` in the template is a declared input.
fn check_placeholders(at: &str, prompt: &str, inputs: Option<&Value>) -> Result<(), ConfigError> {
    let declared = inputs
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    for name in placeholders(prompt) {
        if !declared.is_some_and(|d| d.contains_key(name)) {
            return Err(ConfigError::at(
                at,
                format!("`{{{{{name}}}}}` is not one of the workflow's `inputs.properties`"),
            ));
        }
    }
    Ok(())
}

/// The names between `{{` and `}}`, trimmed.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        names.push(rest[start + 2..start + 2 + len].trim());
        rest = &rest[start + 2 + len + 2..];
    }
    names
}

/// The template with each `{{name}}` replaced by the input (a string as
/// is, anything else as JSON; an absent input as nothing).
pub fn render(template: &str, inputs: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + 2 + len].trim();
        match &inputs[name] {
            Value::String(s) => out.push_str(s),
            Value::Null => {}
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_fills_inputs() {
        let t = "Summarise {{ topic }} in {{n}} lines{{missing}}.";
        assert_eq!(
            render(t, &json!({"topic": "disks", "n": 3})),
            "Summarise disks in 3 lines."
        );
        assert_eq!(placeholders(t), ["topic", "n", "missing"]);
    }
}
