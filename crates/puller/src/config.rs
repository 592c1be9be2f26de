//! The puller's config document (see docs/puller.md).
//!
//! Models are declared as a list whose entries are either a plain name
//! (`"llama3.2:3b"`) or an object (`{"name": ..., "autoUpdate": true}`);
//! both forms deserialize into one flat [`ModelConfig`], so an error inside
//! an object still names its path (`models[2].autoUpdate`).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hwc_ai_runtime::config::{check_listen, check_positive};
use hwc_ai_runtime::{Common, ConfigError, LogConfig, Validate};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::name::ModelName;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default = "default_ollama_url")]
    pub ollama_url: Url,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    /// Names `prune` never removes, declared or not.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Remove models Ollama holds that are neither declared nor kept.
    #[serde(default = "default_prune")]
    pub prune: bool,
    #[serde(default = "default_max_concurrent_pulls")]
    pub max_concurrent_pulls: usize,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    pub disk: Disk,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default = "default_progress_log_interval", with = "humantime_serde")]
    pub progress_log_interval: Duration,
    /// Where validation results and the last update run are remembered
    /// across restarts. Without it every start validates every model once.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
}

/// Loopback only: metrics, health and the reconcile trigger are for the
/// local Prometheus and the `hwc-ai` command.
fn default_listen() -> String {
    hwc_ai_runtime::daemons::PULLER.listen.to_owned()
}

/// Where nixpkgs' `services.ollama` listens.
fn default_ollama_url() -> Url {
    Url::parse("http://127.0.0.1:11434").expect("constant URL")
}

/// Off: deleting what an operator pulled by hand must be asked for.
fn default_prune() -> bool {
    false
}

/// One at a time: pulls share one link and one disk, so parallel pulls
/// finish no sooner in total and the first usable model arrives later.
fn default_max_concurrent_pulls() -> usize {
    1
}

/// Often enough that STATUS and the journal show a long pull moving, rare
/// enough that a multi-gigabyte pull logs a few dozen lines, not thousands.
fn default_progress_log_interval() -> Duration {
    Duration::from_secs(30)
}

/// One declared model. A plain string in the document means `{"name": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelConfig {
    pub name: String,
    /// Re-pull on the update schedule and take a new digest when upstream
    /// changed.
    pub auto_update: bool,
    /// Prove the model answers (one token, or one embedding) after each
    /// pull.
    pub validate: bool,
}

/// The object form, as written.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ModelObject {
    name: String,
    #[serde(default = "default_auto_update")]
    auto_update: bool,
    #[serde(default = "default_validate")]
    validate: bool,
}

/// Off: a model that changes under a working setup is a surprise; the
/// operator opts in per model.
fn default_auto_update() -> bool {
    false
}

/// On: a model that is present but cannot answer is not ready, and the
/// check costs one token.
fn default_validate() -> bool {
    true
}

impl ModelConfig {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            auto_update: default_auto_update(),
            validate: default_validate(),
        }
    }
}

/// Accepts `"name"` or the object form; inside an object, errors keep their
/// field path (`models[1].autoUpdate`).
impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModelVisitor;
        impl<'de> Visitor<'de> for ModelVisitor {
            type Value = ModelConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a model name or {\"name\": ..., \"autoUpdate\": ..., \"validate\": ...}",
                )
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<ModelConfig, E> {
                Ok(ModelConfig::new(name))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ModelConfig, A::Error> {
                let o = ModelObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ModelConfig {
                    name: o.name,
                    auto_update: o.auto_update,
                    validate: o.validate,
                })
            }
        }
        deserializer.deserialize_any(ModelVisitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// How often autoUpdate models are re-pulled.
    #[serde(default = "default_update_interval", with = "humantime_serde")]
    pub update_interval: Duration,
    /// A random extra wait of up to this much before each update run, so a
    /// fleet does not hit the registry at the same minute.
    #[serde(default = "default_randomized_delay", with = "humantime_serde")]
    pub randomized_delay: Duration,
    /// How often Ollama's model list is checked against the declaration
    /// (a model deleted by hand comes back).
    #[serde(default = "default_recheck_interval", with = "humantime_serde")]
    pub recheck_interval: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            update_interval: default_update_interval(),
            randomized_delay: default_randomized_delay(),
            recheck_interval: default_recheck_interval(),
        }
    }
}

/// Daily: model tags move on a scale of days to weeks.
fn default_update_interval() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// An hour spreads a fleet's update runs without making them late.
fn default_randomized_delay() -> Duration {
    Duration::from_secs(3600)
}

/// A no-change check is one `/api/tags` call; every 15 minutes it is free,
/// and a model removed by hand is back within the quarter hour.
fn default_recheck_interval() -> Duration {
    Duration::from_secs(15 * 60)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// The wait after a model's first failure; it doubles per failure.
    #[serde(default = "default_retry_initial", with = "humantime_serde")]
    pub initial: Duration,
    /// The longest wait between two attempts of one model.
    #[serde(default = "default_retry_max", with = "humantime_serde")]
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            initial: default_retry_initial(),
            max: default_retry_max(),
        }
    }
}

/// Long enough that a registry hiccup is over, short enough that a
/// one-off failure costs under a minute.
fn default_retry_initial() -> Duration {
    Duration::from_secs(30)
}

/// A model that keeps failing (a typo upstream, a full disk) is tried
/// twice an hour, not hammered; SIGHUP retries at once.
fn default_retry_max() -> Duration {
    Duration::from_secs(30 * 60)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disk {
    /// Ollama's models directory (`OLLAMA_MODELS`); its file system is the
    /// one measured.
    #[serde(default = "default_disk_path")]
    pub path: PathBuf,
    /// Refuse to start a pull with less free space than this; a pull whose
    /// size is known also needs that much on top.
    #[serde(default = "default_min_free")]
    pub min_free: ByteSize,
    /// Warn (log and metric) when the file system is fuller than this.
    #[serde(default = "default_warn_used_ratio")]
    pub warn_used_ratio: f64,
}

impl Default for Disk {
    fn default() -> Self {
        Self {
            path: default_disk_path(),
            min_free: default_min_free(),
            warn_used_ratio: default_warn_used_ratio(),
        }
    }
}

/// nixpkgs' `services.ollama` default `OLLAMA_MODELS`.
fn default_disk_path() -> PathBuf {
    PathBuf::from("/var/lib/ollama/models")
}

/// 5 GiB: room for logs, the journal and a rebuild after the largest pull,
/// so a model never fills the disk the system runs on.
fn default_min_free() -> ByteSize {
    ByteSize(5 << 30)
}

/// 80%: the usual "time to look" mark, well before the floor refuses pulls.
fn default_warn_used_ratio() -> f64 {
    0.8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    /// Connecting to Ollama, and any short call (`/api/version`,
    /// `/api/tags`, `/api/show`, `/api/delete`).
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request: Duration,
    /// A pull with no progress line for this long is stalled and fails.
    #[serde(default = "default_pull_stall", with = "humantime_serde")]
    pub pull_stall: Duration,
    /// The validation inference, which loads the model first.
    #[serde(default = "default_validate_timeout", with = "humantime_serde")]
    pub validate: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request: default_request_timeout(),
            pull_stall: default_pull_stall(),
            validate: default_validate_timeout(),
        }
    }
}

/// A local Ollama answers its list and show calls in milliseconds; 30 s
/// allows for one busy loading a large model.
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Ollama sends progress several times a second while bytes flow; five
/// silent minutes is a stuck registry connection, not a slow one.
fn default_pull_stall() -> Duration {
    Duration::from_secs(5 * 60)
}

/// Loading a 70B model from a spinning disk takes minutes; ten is generous
/// and still bounded.
fn default_validate_timeout() -> Duration {
    Duration::from_secs(10 * 60)
}

/// A byte count: a number, or a string with a unit (`"10 GiB"`, `"500MB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = (s[..split].trim(), s[split..].trim());
        let number: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a size such as 10GiB, 500MB or 1073741824"))?;
        let scale: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
                ))
            }
        };
        Ok(ByteSize((number * scale as f64).round() as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte count or a size string such as \"10GiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

impl Common for Config {
    fn listen(&self) -> &str {
        &self.listen
    }
    fn log(&self) -> &LogConfig {
        &self.log
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        check_listen("listen", &self.listen)?;
        if !matches!(self.ollama_url.scheme(), "http" | "https") || !self.ollama_url.has_host() {
            return Err(ConfigError::at(
                "ollamaUrl",
                format!("`{}` is not an http(s) URL with a host", self.ollama_url),
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, model) in self.models.iter().enumerate() {
            let path = format!("models[{i}].name");
            let name = ModelName::parse(&model.name).map_err(|e| ConfigError::at(&path, e))?;
            if let Some(first) = seen.insert(name.key(), i) {
                return Err(ConfigError::at(
                    path,
                    format!(
                        "`{}` is the same model as models[{first}] (`{}`)",
                        model.name, self.models[first].name
                    ),
                ));
            }
        }
        for (i, name) in self.keep.iter().enumerate() {
            ModelName::parse(name).map_err(|e| ConfigError::at(format!("keep[{i}]"), e))?;
        }
        if self.max_concurrent_pulls == 0 {
            return Err(ConfigError::at("maxConcurrentPulls", "must be at least 1"));
        }
        check_positive("schedule.updateInterval", self.schedule.update_interval)?;
        check_positive("schedule.recheckInterval", self.schedule.recheck_interval)?;
        check_positive("retry.initial", self.retry.initial)?;
        check_positive("retry.max", self.retry.max)?;
        if self.retry.max < self.retry.initial {
            return Err(ConfigError::at(
                "retry.max",
                "must be at least retry.initial",
            ));
        }
        if !self.disk.path.is_absolute() {
            return Err(ConfigError::at(
                "disk.path",
                format!("`{}` is not an absolute path", self.disk.path.display()),
            ));
        }
        let ratio = self.disk.warn_used_ratio;
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(ConfigError::at(
                "disk.warnUsedRatio",
                format!("{ratio} is not a fraction in (0, 1], e.g. 0.8 for 80%"),
            ));
        }
        check_positive("timeouts.request", self.timeouts.request)?;
        check_positive("timeouts.pullStall", self.timeouts.pull_stall)?;
        check_positive("timeouts.validate", self.timeouts.validate)?;
        check_positive("progressLogInterval", self.progress_log_interval)?;
        if let Some(file) = &self.state_file {
            if !file.is_absolute() {
                return Err(ConfigError::at(
                    "stateFile",
                    format!("`{}` is not an absolute path", file.display()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwc_ai_runtime::config::parse;

    #[test]
    fn defaults_are_complete() {
        let c: Config = parse("{}").unwrap();
        assert_eq!(c.listen, "127.0.0.1:9431");
        assert_eq!(c.ollama_url.as_str(), "http://127.0.0.1:11434/");
        assert!(c.models.is_empty() && !c.prune);
        assert_eq!(c.max_concurrent_pulls, 1);
        assert_eq!(c.disk.min_free, ByteSize(5 << 30));
    }

    #[test]
    fn models_as_strings_or_objects() {
        let c: Config = parse(
            r#"{"models": ["llama3.2:3b", {"name": "nomic-embed-text", "autoUpdate": true, "validate": false}]}"#,
        )
        .unwrap();
        assert_eq!(c.models[0].name, "llama3.2:3b");
        assert!(!c.models[0].auto_update && c.models[0].validate);
        assert!(c.models[1].auto_update && !c.models[1].validate);
    }

    #[test]
    fn errors_inside_model_objects_name_the_field() {
        let err =
            parse::<Config>(r#"{"models": ["a", {"name": "b", "autoUpdte": true}]}"#).unwrap_err();
        assert_eq!(err.path, "models[1].autoUpdte");
        let err = parse::<Config>(r#"{"models": [3]}"#).unwrap_err();
        assert_eq!(err.path, "models[0]");
    }

    #[test]
    fn bad_and_duplicate_names_fail() {
        let err = parse::<Config>(r#"{"models": ["ok", "bad name"]}"#).unwrap_err();
        assert_eq!(err.path, "models[1].name");
        assert!(err.message.contains("bad model"), "{err}");
        let err = parse::<Config>(r#"{"models": ["llama3.2", "Llama3.2:latest"]}"#).unwrap_err();
        assert!(err.message.contains("same model as models[0]"), "{err}");
        let err = parse::<Config>(r#"{"keep": ["x:"]}"#).unwrap_err();
        assert_eq!(err.path, "keep[0]");
    }

    #[test]
    fn sizes_take_units() {
        for (text, bytes) in [
            ("1048576", 1 << 20),
            ("\"10GiB\"", 10 << 30),
            ("\"500 MB\"", 500_000_000),
            ("\"1.5GiB\"", 3 << 29),
        ] {
            let c: Config = parse(&format!(r#"{{"disk": {{"minFree": {text}}}}}"#)).unwrap();
            assert_eq!(c.disk.min_free, ByteSize(bytes), "{text}");
        }
        let err = parse::<Config>(r#"{"disk": {"minFree": "10 parsecs"}}"#).unwrap_err();
        assert_eq!(err.path, "disk.minFree");
    }

    #[test]
    fn ranges_are_checked() {
        for (doc, path) in [
            (r#"{"maxConcurrentPulls": 0}"#, "maxConcurrentPulls"),
            (r#"{"disk": {"warnUsedRatio": 1.5}}"#, "disk.warnUsedRatio"),
            (r#"{"disk": {"path": "models"}}"#, "disk.path"),
            (r#"{"retry": {"initial": "1h", "max": "1m"}}"#, "retry.max"),
            (r#"{"ollamaUrl": "ftp://x"}"#, "ollamaUrl"),
            (r#"{"stateFile": "state.json"}"#, "stateFile"),
            (
                r#"{"schedule": {"updateInterval": "0s"}}"#,
                "schedule.updateInterval",
            ),
        ] {
            assert_eq!(parse::<Config>(doc).unwrap_err().path, path, "{doc}");
        }
    }
}
