//! `hwc-ai up`: every daemon in one process, for a laptop or a first look.
//!
//! Each daemon is a library whose `run(config, ctx)` is the same code the
//! systemd units run; here they share one runtime and one Ctrl-C.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hwc_ai_runtime::{config, daemons, ConfigError, Context, Shutdown, Validate};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::daemon::{self, Section};

/// The built-in config: the default ports, probing the local stack.
/// The default document less what the daemon table gives: each daemon's
/// `listen`, the prober's target for each daemon, the assistant's router.
const DEFAULT_BASE: &str = include_str!("up.default.json");

/// The built-in `up` document (`--print-default`): `up.default.json`
/// completed from the runtime's daemon table, so a daemon or port is
/// written once.
pub fn default_document() -> String {
    use serde_json::{json, Map, Value};
    let Ok(Value::Object(base)) = serde_json::from_str::<Value>(DEFAULT_BASE) else {
        unreachable!("up.default.json is a JSON object");
    };
    let mut doc = Map::new();
    for (name, section) in base {
        let mut out = Map::new();
        if let Some(d) = daemons::find(&name) {
            out.insert("listen".into(), d.listen.into());
        }
        if let Value::Object(fields) = section {
            out.extend(fields);
        }
        doc.insert(name, Value::Object(out));
    }
    if let Some(Value::Array(targets)) = doc.get_mut("prober").and_then(|p| p.get_mut("targets")) {
        targets.extend(
            daemons::ALL
                .iter()
                .map(|d| json!({"name": d.unit, "kind": "hwc-ai", "url": d.url})),
        );
    }
    if let Some(Value::Object(assistant)) = doc.get_mut("assistant") {
        assistant.insert("router".into(), json!({"url": daemons::ROUTER.url}));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(doc)).expect("JSON");
    text.push('\n');
    text
}

/// One section per daemon of the table (`prober`, ...), each its daemon's
/// config; a missing section gets the built-in default. The MCP gateway's
/// `command` servers run as its children; the assistant's
/// `stateDirectory` may be left out (see [`parse`]).
pub struct UpConfig {
    /// The daemons to run, by name; they start in the table's order.
    sections: HashMap<&'static str, Box<dyn Section>>,
    /// Sections the document set to `null`: those daemons are not run.
    off: Vec<String>,
}

impl fmt::Debug for UpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.sections.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("UpConfig")
            .field("sections", &names)
            .field("off", &self.off)
            .finish()
    }
}

/// The names of the table, the sections a document may have.
static NAMES: [&str; daemons::ALL.len()] = {
    let mut names = [""; daemons::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = daemons::ALL[i].name;
        i += 1;
    }
    names
};

impl<'de> Deserialize<'de> for UpConfig {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        deserializer.deserialize_struct("UpConfig", &NAMES, Sections)
    }
}

/// An `up` document's sections, each parsed as its daemon's config.
struct Sections;

impl<'de> Visitor<'de> for Sections {
    type Value = UpConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct UpConfig")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UpConfig, A::Error> {
        let mut sections = HashMap::new();
        while let Some(name) = map.next_key_seed(Name)? {
            if let Some(section) = map.next_value_seed(SectionSeed(name))? {
                sections.insert(name, section);
            }
        }
        Ok(UpConfig {
            sections,
            off: Vec::new(),
        })
    }

    /// The sections by position, in the table's order, as serde reads
    /// any struct from an array.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UpConfig, A::Error> {
        let mut sections = HashMap::new();
        for (i, d) in daemons::ALL.iter().enumerate() {
            let Some(section) = seq.next_element_seed(SectionSeed(d.name))? else {
                let expected = format!("struct UpConfig with {} elements", NAMES.len());
                return Err(de::Error::invalid_length(i, &expected.as_str()));
            };
            if let Some(section) = section {
                sections.insert(d.name, section);
            }
        }
        Ok(UpConfig {
            sections,
            off: Vec::new(),
        })
    }
}

/// A section's name: a daemon of the table.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = &'static str;

    fn deserialize<De: Deserializer<'de>>(
        self,
        deserializer: De,
    ) -> Result<Self::Value, De::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        NAMES
            .into_iter()
            .find(|n| *n == name)
            .ok_or_else(|| E::unknown_field(name, &NAMES))
    }
}

/// One section, parsed as the config of the daemon it names.
struct SectionSeed(&'static str);

impl<'de> DeserializeSeed<'de> for SectionSeed {
    type Value = Option<Box<dyn Section>>;

    fn deserialize<De: Deserializer<'de>>(
        self,
        deserializer: De,
    ) -> Result<Self::Value, De::Error> {
        daemon::with(self.0, daemon::Parse::new(deserializer)).unwrap_or_else(|| {
            Err(de::Error::custom(format!(
                "this build does not hold daemon `{}`",
                self.0
            )))
        })
    }
}

impl Validate for UpConfig {
    fn complete(mut self) -> Result<Self, ConfigError> {
        for d in daemons::ALL {
            if let Some(section) = self.sections.remove(d.name) {
                self.sections.insert(d.name, section.complete()?);
            }
        }
        Ok(self)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for d in daemons::ALL {
            if let Some(section) = self.sections.get(d.name) {
                section
                    .validate()
                    .map_err(|e| ConfigError::at(format!("{}.{}", d.name, e.path), e.message))?;
            }
        }
        Ok(())
    }
}

/// Where `up` keeps the assistant's audit log and sessions when the
/// document names no `assistant.stateDirectory`: per user, as the XDG base
/// directories say state belongs (`$XDG_STATE_HOME/hwc-ai/assistant`, or
/// `~/.local/state/hwc-ai/assistant`), so `up` needs no root and a second
/// user's stack keeps its own log.
pub fn user_state_directory() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/state")
        }
    };
    Some(base.join("hwc-ai/assistant"))
}

/// Parses an `up` document: an `assistant` section without a
/// `stateDirectory` gets the per-user one, and a section set to `null` is
/// a daemon turned off.
pub fn parse(text: &str) -> Result<UpConfig, ConfigError> {
    // A document that is not JSON is left to `config::parse`, whose
    // message says where.
    let Ok(serde_json::Value::Object(mut doc)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return config::parse(text);
    };
    let off: Vec<String> = doc
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    if let Some(serde_json::Value::Object(assistant)) = doc.get_mut("assistant") {
        if !assistant.contains_key("stateDirectory") {
            let dir = user_state_directory().ok_or_else(|| {
                ConfigError::at(
                    "assistant.stateDirectory",
                    "neither XDG_STATE_HOME nor HOME is set: name a directory for the audit log and sessions",
                )
            })?;
            assistant.insert("stateDirectory".into(), dir.to_string_lossy().into());
        }
    }
    let mut config: UpConfig = config::parse(&serde_json::Value::Object(doc).to_string())?;
    config.off = off;
    Ok(config)
}

/// Reads and parses an `up` document (see [`parse`]).
pub fn load(path: &Path) -> Result<UpConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| ConfigError::at("", format!("cannot read {}: {err}", path.display())))?;
    parse(&text)
}

impl UpConfig {
    fn with_defaults(mut self) -> Result<Self, ConfigError> {
        let mut default = parse(&default_document())?;
        for d in daemons::ALL {
            let on = !self.off.iter().any(|o| o == d.name);
            if on && !self.sections.contains_key(d.name) {
                if let Some(section) = default.sections.remove(d.name) {
                    self.sections.insert(d.name, section);
                }
            }
        }
        Ok(self)
    }

    /// One section's typed config.
    #[cfg(test)]
    fn get<C: 'static>(&self, name: &str) -> Option<&C> {
        self.sections.get(name)?.config().downcast_ref()
    }
}

pub fn main(file: Option<&Path>, print_default: bool) -> ExitCode {
    if print_default {
        print!("{}", default_document());
        return ExitCode::SUCCESS;
    }
    let loaded = match file {
        Some(path) => load(path),
        None => parse(&default_document()),
    }
    .and_then(UpConfig::with_defaults);
    let config = match loaded {
        Ok(config) => config,
        Err(err) => {
            let name = file.map_or("built-in default".into(), |p| p.display().to_string());
            eprintln!("{name}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // One log for the process: the prober's section says how.
    let log = config
        .sections
        .get(daemons::PROBER.name)
        .map(|p| p.log().clone())
        .unwrap_or_default();
    hwc_ai_runtime::logging::init(&log);
    let runtime = match crate::rt::multi_thread("up", 2) {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let result = runtime.block_on(run(config));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: UpConfig) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let name = hwc_ai_runtime::shutdown::signal().await;
        tracing::info!("{name} received: stopping every daemon");
        on_signal.trigger();
    });
    let mut running = tokio::task::JoinSet::new();
    let mut sections = config.sections;
    for d in daemons::ALL {
        let Some(section) = sections.remove(d.name) else {
            continue;
        };
        tracing::info!("starting {} on {}", d.unit, section.listen());
        let ctx = Context::embedded(shutdown.clone());
        running.spawn(async move { (d.unit, section.run(ctx).await) });
    }
    tracing::info!("hwc-ai up: `hwc-ai status` shows the stack's health; Ctrl-C stops");
    let mut failed = None;
    while let Some(joined) = running.join_next().await {
        let (name, result) = joined?;
        if let Err(err) = result {
            // One daemon failing takes the others down: a half-running
            // stack would report misleading health.
            tracing::error!("{name} failed: {err:#}");
            failed.get_or_insert(anyhow::anyhow!("{name} failed: {err:#}"));
            shutdown.trigger();
        }
    }
    failed.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_complete() {
        let config = parse(&default_document()).unwrap().with_defaults().unwrap();
        let prober = config.get::<hwc_ai_prober::Config>("prober").unwrap();
        assert_eq!(prober.listen, "127.0.0.1:9430");
        assert!(prober.targets.iter().any(|t| t.name == "ollama"));
        assert_eq!(
            config
                .get::<hwc_ai_puller::Config>("puller")
                .unwrap()
                .listen,
            "127.0.0.1:9431"
        );
        let router = config.get::<hwc_ai_router::Config>("router").unwrap();
        assert_eq!(router.listen, "127.0.0.1:9432");
        assert!(
            !router.backends.iter().any(|b| b.remote),
            "up stays on the host"
        );
        // Every name a client asks for reaches the local Ollama.
        assert!(router.routes.iter().any(|r| r.model == "*"));
        // The assistant runs too: `hwc-ai ask` works on a fresh machine.
        let assistant = config.get::<hwc_ai_assistant::Config>("assistant").unwrap();
        assert_eq!(assistant.listen, "127.0.0.1:9434");
        assert_eq!(
            Some(assistant.state_directory.clone()),
            user_state_directory()
        );
        assert!(prober.targets.iter().any(|t| t.name == "hwc-ai-assistant"));
    }

    #[test]
    fn the_assistant_keeps_its_state_per_user_unless_told() {
        let config = parse(r#"{"assistant": {"listen": "127.0.0.1:1"}}"#)
            .unwrap()
            .with_defaults()
            .unwrap();
        let dir = &config
            .get::<hwc_ai_assistant::Config>("assistant")
            .unwrap()
            .state_directory;
        assert!(dir.ends_with("hwc-ai/assistant"), "{}", dir.display());
        assert!(dir.is_absolute(), "{}", dir.display());
        let config = parse(r#"{"assistant": {"stateDirectory": "/srv/a"}}"#).unwrap();
        assert_eq!(
            config
                .get::<hwc_ai_assistant::Config>("assistant")
                .unwrap()
                .state_directory,
            PathBuf::from("/srv/a")
        );
        // `null` turns a daemon off; the others keep their defaults.
        let config = parse(r#"{"assistant": null}"#)
            .unwrap()
            .with_defaults()
            .unwrap();
        assert!(
            config
                .get::<hwc_ai_assistant::Config>("assistant")
                .is_none()
                && config.get::<hwc_ai_router::Config>("router").is_some()
        );
        // Errors still name the field inside the section.
        let err = parse(r#"{"assistant": {"listen": "nowhere"}}"#).unwrap_err();
        assert_eq!(err.path, "assistant.listen");
    }

    #[test]
    fn errors_name_the_section() {
        let err = parse(r#"{"prober":{"targets":[{"name":"x","kind":"http","url":"/relative"}]}}"#)
            .unwrap_err();
        assert_eq!(err.path, "prober.targets[0].url");
        assert_eq!(err.message, "relative URL without a base: \"/relative\"");
        let err = parse(r#"{"prober":{"targets":[{"name":"x","kind":"tcp","url":"http://a"}]}}"#)
            .unwrap_err();
        assert_eq!(err.path, "prober.targets[0].address");
    }

    #[test]
    fn a_missing_section_gets_the_default() {
        let config = parse("{}").unwrap().with_defaults().unwrap();
        assert!(config.get::<hwc_ai_prober::Config>("prober").is_some());
    }
}
