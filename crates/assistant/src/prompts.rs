//! The prompts the operator may replace: the system prompt (who the
//! assistant is, the homelab, house rules) and the intent-classification
//! prompt of `/v1/query` with Home Assistant actions. Each is a file named
//! in the config, checked at `--check-config` time; the built-in ones are
//! the defaults.

use std::path::{Path, PathBuf};

use hwc_ai_runtime::ConfigError;
use serde::Deserialize;

use crate::engine::SYSTEM_PROMPT;

/// How `/v1/query` asks the model what a message wants. `{lights}` becomes
/// the entity ids the operator allowed, comma-separated. The model names
/// the device in the user's words (`target`); the assistant resolves the
/// words to an entity itself, against Home Assistant's friendly names.
pub const INTENT_PROMPT: &str = "Classify the user's message to a home assistant. Reply with one \
JSON object and nothing else: {\"intent\": \"turn_on\" | \"turn_off\" | \"list_entities\" | \
\"question\", \"target\": the device as the user named it or null, \"domain\": \"light\" | \
\"switch\" | \"fan\" | null, \"area\": a room the user named or null, \"brightness_pct\": 0-100 or \
null, \"color_temp_kelvin\": a colour temperature in kelvin or null}. The devices that can be \
switched are: {lights}. Use turn_on or turn_off to switch, dim or brighten one of them (a \
brightness or colour temperature only when the user asks for one; warm white is 2700, daylight \
6500); list_entities when the user asks what can be controlled or which devices there are; \
anything else is a question.";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptsConfig {
    /// A text file replacing the built-in system prompt.
    #[serde(default)]
    pub system_file: Option<PathBuf>,
    /// A text file replacing the built-in intent-classification prompt;
    /// it must contain `{lights}`.
    #[serde(default)]
    pub intent_file: Option<PathBuf>,
}

/// The prompts in use.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub system: String,
    intent: String,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            system: SYSTEM_PROMPT.to_owned(),
            intent: INTENT_PROMPT.to_owned(),
        }
    }
}

/// What each prompt must contain, and may.
const SYSTEM_PLACEHOLDERS: (&[&str], &[&str]) = (&[], &[]);
const INTENT_PLACEHOLDERS: (&[&str], &[&str]) = (&["lights"], &["lights"]);

impl Prompts {
    /// Reads and checks the configured files (the built-in prompts for the
    /// ones not set). Errors name the field.
    pub fn load(config: &PromptsConfig) -> Result<Self, ConfigError> {
        let mut prompts = Self::default();
        if let Some(path) = &config.system_file {
            prompts.system = read("prompts.systemFile", path, SYSTEM_PLACEHOLDERS)?;
        }
        if let Some(path) = &config.intent_file {
            prompts.intent = read("prompts.intentFile", path, INTENT_PLACEHOLDERS)?;
        }
        Ok(prompts)
    }

    /// The intent prompt for these lights.
    pub fn intent(&self, lights: &[String]) -> String {
        self.intent.replace("{lights}", &lights.join(", "))
    }
}

fn read(
    field: &str,
    path: &Path,
    (required, known): (&[&str], &[&str]),
) -> Result<String, ConfigError> {
    if !path.is_absolute() {
        return Err(ConfigError::at(
            field,
            format!("`{}` is not an absolute path", path.display()),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(field, format!("cannot read {}: {e}", path.display())))?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(ConfigError::at(
            field,
            format!("{} is empty", path.display()),
        ));
    }
    for name in placeholders(&text) {
        if !known.contains(&name) {
            let knows = if known.is_empty() {
                "this prompt has no placeholders".to_owned()
            } else {
                format!(
                    "it knows {}",
                    known
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(ConfigError::at(
                field,
                format!(
                    "{}: unknown placeholder `{{{name}}}` ({knows})",
                    path.display()
                ),
            ));
        }
    }
    for name in required {
        if !text.contains(&format!("{{{name}}}")) {
            return Err(ConfigError::at(
                field,
                format!(
                    "{} must contain `{{{name}}}` (where the prompt's values go)",
                    path.display()
                ),
            ));
        }
    }
    Ok(text)
}

/// The `{name}` placeholders in `text`: a brace, a lower-case identifier,
/// a brace. Other braces (JSON examples in the prompt) are text.
fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        rest = &rest[start + 1..];
        if let Some(end) = rest.find('}') {
            let name = &rest[..end];
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                found.push(name);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(system: Option<&str>, intent: Option<&str>) -> Result<Prompts, String> {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: Option<&str>| {
            text.map(|t| {
                let path = dir.path().join(name);
                std::fs::write(&path, t).unwrap();
                path
            })
        };
        Prompts::load(&PromptsConfig {
            system_file: write("system.txt", system),
            intent_file: write("intent.txt", intent),
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_built_in_prompts_are_the_defaults() {
        let prompts = load(None, None).unwrap();
        assert_eq!(prompts.system, SYSTEM_PROMPT);
        let intent = prompts.intent(&["light.kitchen".into(), "light.hall".into()]);
        assert!(
            intent.contains("switched are: light.kitchen, light.hall."),
            "{intent}"
        );
        assert!(intent.contains(r#"{"intent": "turn_on""#), "{intent}");
    }

    #[test]
    fn the_operators_files_replace_them() {
        let prompts = load(
            Some("You are Jarvis, the assistant of the Smith homelab.\n"),
            Some("Lights: {lights}. Answer {\"intent\": ..., \"entity\": ...}"),
        )
        .unwrap();
        assert_eq!(
            prompts.system,
            "You are Jarvis, the assistant of the Smith homelab."
        );
        assert_eq!(
            prompts.intent(&["light.porch".into()]),
            "Lights: light.porch. Answer {\"intent\": ..., \"entity\": ...}"
        );
    }

    #[test]
    fn a_prompt_without_its_placeholder_or_with_a_typo_is_refused_naming_the_field() {
        let err = load(None, Some("Classify the message.")).unwrap_err();
        assert!(
            err.contains("prompts.intentFile") && err.contains("must contain `{lights}`"),
            "{err}"
        );
        let err = load(None, Some("The lights: {light}")).unwrap_err();
        assert!(
            err.contains("unknown placeholder `{light}`") && err.contains("it knows {lights}"),
            "{err}"
        );
        let err = load(Some("You serve {house}."), None).unwrap_err();
        assert!(
            err.contains("prompts.systemFile") && err.contains("has no placeholders"),
            "{err}"
        );
        let err = load(Some("  \n"), None).unwrap_err();
        assert!(err.contains("is empty"), "{err}");
        let err = Prompts::load(&PromptsConfig {
            system_file: Some("/nonexistent/system.txt".into()),
            intent_file: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("prompts.systemFile") && err.contains("cannot read"),
            "{err}"
        );
    }
}
