//! The router's config document (see docs/router.md).
//!
//! Backends are one flat struct with a `kind`, not a serde-tagged enum, so
//! an error inside one still names its full path (`backends[1].baseUrl`).
//! Routes name backends; every name is checked against the list, so a typo
//! fails `--check-config`, not the first request.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

pub use hwc_ai_runtime::auth::{ClientKey, ClientsConfig};
use hwc_ai_runtime::config::{self, check_listen, check_name};
use hwc_ai_runtime::{Common, ConfigError, LogConfig, SecretSource, Validate};
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub log: LogConfig,
    /// Largest request body accepted; larger is 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Largest non-streaming upstream response read; larger is 502.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    #[serde(default)]
    pub clients: ClientsConfig,
    pub backends: Vec<BackendConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Named request defaults over an ordered list of targets, usable
    /// wherever a model name is (see docs/router.md, Profiles).
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
    /// Honour `x-hwc-ai-debug: 1` on a request: log its upstream requests
    /// and answers, redacted. Off: the header is ignored.
    #[serde(default)]
    pub debug_requests: bool,
    /// OpenTelemetry traces of every request (docs/router.md, Tracing):
    /// off unless set.
    #[serde(default)]
    pub tracing: Option<hwc_ai_runtime::otel::TracingConfig>,
}

/// Where an operator keeps profiles outside the config (outside Nix): a
/// JSON file `{"profiles": [...]}` whose profiles replace the config's
/// of the same name and add the others.
pub const PROFILES_FILE_ENV: &str = "HWC_AI_ROUTER_PROFILES_FILE";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilesFile {
    pub profiles: Vec<ProfileConfig>,
}

impl Config {
    /// The config with the profiles of `$HWC_AI_ROUTER_PROFILES_FILE`, when
    /// set, laid over its own. Errors name the file and the field.
    pub fn with_profiles_file(mut self) -> Result<Self, ConfigError> {
        let Some(path) = std::env::var_os(PROFILES_FILE_ENV) else {
            return Ok(self);
        };
        let path = std::path::PathBuf::from(path);
        let file: ProfilesFile = config::load(&path).map_err(|e| {
            ConfigError::at(
                format!("{PROFILES_FILE_ENV}={}: {}", path.display(), e.path),
                e.message,
            )
        })?;
        for profile in file.profiles {
            match self.profiles.iter_mut().find(|p| p.name == profile.name) {
                Some(existing) => *existing = profile,
                None => self.profiles.push(profile),
            }
        }
        Ok(self)
    }
}

/// A profile: a name clients ask for, the targets it tries in order, and
/// the request defaults it fills in.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    pub name: String,
    pub targets: Vec<TargetConfig>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    /// The whole request's budget across every attempt; `defaults.budget`
    /// when absent.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Tool-call rounds a caller running tools may take with this profile;
    /// reported to `/execute` callers, which do not run tools themselves.
    pub max_depth: Option<u32>,
    /// Portable model parameters (`top_p`, `seed`, `stop`, ...) added to
    /// requests that do not set them.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Repair attempts on one target when its output fails the schema.
    pub schema_repairs: Option<u32>,
    /// Validate (and repair) `response_format` json_schema answers on
    /// `/v1/chat/completions` too, as if every request asked for it.
    #[serde(default)]
    pub strict_schema: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minimal => "minimal",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }
}

/// Request fields a profile's `params` may not set: the router's own.
const RESERVED_PARAMS: &[&str] = &["model", "messages", "stream", "input"];

/// Loopback only: the router fronts backends that may cost money or carry
/// private data; exposing it is the operator's explicit choice.
fn default_listen() -> String {
    hwc_ai_runtime::daemons::ROUTER.listen.to_owned()
}

/// 8 MiB: a long conversation with a few inline images fits; a runaway
/// client cannot make the router hold hundreds of megabytes per request.
fn default_max_body_bytes() -> usize {
    8 << 20
}

/// 32 MiB: a large batch of embeddings fits; an upstream that answers with
/// an endless body cannot exhaust memory.
fn default_max_response_bytes() -> usize {
    32 << 20
}

/// Applied to every target that does not set its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// Streams: how long a target may take to send its first chunk before
    /// the router moves on to the next target.
    #[serde(default = "default_first_byte_timeout", with = "humantime_serde")]
    pub first_byte_timeout: Duration,
    /// Non-streaming requests: how long the whole answer may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Streams: the longest silence between chunks after the first; a
    /// longer one ends the stream with an error event.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Concurrent upstream requests per backend.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// How long a request waits for a slot on a backend at
    /// `maxConcurrent` before the next target is tried (or 429).
    #[serde(default = "default_queue_timeout", with = "humantime_serde")]
    pub queue_timeout: Duration,
    /// Requests that may wait for a slot on one backend; one more is
    /// refused at once (the next target, or 429). None: no bound but the
    /// queue timeout.
    pub max_queue: Option<usize>,
    /// A request's whole budget across every attempt (fallbacks and
    /// schema repairs included).
    #[serde(default = "default_budget", with = "humantime_serde")]
    pub budget: Duration,
    /// How often a backend with `discover` is asked which models it has
    /// and which are loaded (and sooner after it failed a request).
    #[serde(default = "default_discover_interval", with = "humantime_serde")]
    pub discover_interval: Duration,
    /// Conversations remembered for sticky routing within a tier.
    #[serde(default = "default_sticky_conversations")]
    pub sticky_conversations: usize,
    /// Repair attempts on one target when its output fails the schema.
    #[serde(default = "default_schema_repairs")]
    pub schema_repairs: u32,
}

/// Five minutes: what homelab job runners give an LLM call.
fn default_budget() -> Duration {
    Duration::from_secs(300)
}

/// One re-ask with the validation errors fixes most near misses; more
/// mostly repeats the same mistake at the same cost.
fn default_schema_repairs() -> u32 {
    1
}

/// Ten seconds: Ollama unloads an idle model after five minutes and loads
/// one in seconds; a listing every ten seconds keeps "loaded" close to the
/// truth for the price of two local GETs per host.
fn default_discover_interval() -> Duration {
    Duration::from_secs(10)
}

/// 4096 conversations: a household's chats of the last hours; at about a
/// hundred bytes each the table stays under half a megabyte. `0` turns
/// sticky routing off.
fn default_sticky_conversations() -> usize {
    4096
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            first_byte_timeout: default_first_byte_timeout(),
            timeout: default_timeout(),
            idle_timeout: default_idle_timeout(),
            max_concurrent: default_max_concurrent(),
            queue_timeout: default_queue_timeout(),
            max_queue: None,
            budget: default_budget(),
            schema_repairs: default_schema_repairs(),
            discover_interval: default_discover_interval(),
            sticky_conversations: default_sticky_conversations(),
        }
    }
}

/// A local model that has to load from disk takes tens of seconds before
/// its first token; a minute covers a cold load of a mid-size model
/// without leaving a client hanging on a dead target for long.
fn default_first_byte_timeout() -> Duration {
    Duration::from_secs(60)
}

/// Five minutes: a long non-streaming answer from a slow local model, and
/// the budget homelab job runners already use.
fn default_timeout() -> Duration {
    Duration::from_secs(300)
}

/// Two minutes: a generating model sends a chunk at least every few
/// seconds, even while it thinks; a stream silent for this long is stuck,
/// and would otherwise hold its connection and its backend slot forever.
fn default_idle_timeout() -> Duration {
    Duration::from_secs(120)
}

/// Five seconds: a burst from a chat UI and a bot at once waits for a
/// slot instead of failing, while a backend that is saturated for longer
/// sends requests on to the next target (or a clear 429) soon.
fn default_queue_timeout() -> Duration {
    Duration::from_secs(5)
}

/// A local Ollama serves a few requests in parallel (OLLAMA_NUM_PARALLEL);
/// more than this per backend only queues inside the backend.
fn default_max_concurrent() -> usize {
    16
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open a target's circuit.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// How long an open target is skipped before one trial request.
    #[serde(default = "default_cooldown", with = "humantime_serde")]
    pub cooldown: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: default_failure_threshold(),
            cooldown: default_cooldown(),
        }
    }
}

/// Three in a row: one dropped connection does not take a target out, a
/// dead one is out after three requests instead of slowing every request.
fn default_failure_threshold() -> u32 {
    3
}

/// Long enough for a restarting Ollama to come back, short enough that a
/// recovered local model is used again within the minute.
fn default_cooldown() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// OpenAI's chat completions API: Ollama's /v1, llama.cpp server, vLLM,
    /// LM Studio, OpenAI itself.
    OpenaiCompatible,
    /// Anthropic's Messages API, translated to and from OpenAI's shapes.
    Anthropic,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::OpenaiCompatible => "openai-compatible",
            BackendKind::Anthropic => "anthropic",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKind,
    /// The API root, e.g. `http://127.0.0.1:11434/v1`; the router appends
    /// `chat/completions`, `embeddings`.
    pub base_url: Url,
    /// Sent as `Authorization: Bearer`.
    pub api_key: Option<SecretSource>,
    pub max_concurrent: Option<usize>,
    /// This backend's `defaults.maxQueue`.
    pub max_queue: Option<usize>,
    /// Requests to this backend leave this host. Required, and only
    /// allowed, when the base URL is not a loopback address.
    #[serde(default)]
    pub remote: bool,
    /// Ask this backend for its models (`GET {baseUrl}/models`) when a
    /// client lists models, and list those a glob route would send here.
    #[serde(default)]
    pub list_models: bool,
    /// An Ollama behind this backend: ask it which models it has
    /// (`/api/tags`) and has loaded (`/api/ps`) on the base URL without its
    /// `/v1`, every `defaults.discoverInterval`; requests for a model it
    /// lacks skip it, and a loaded model is preferred within a tier.
    #[serde(default)]
    pub discover: bool,
    /// Whether this backend takes a reasoning control (`reasoning_effort`
    /// for OpenAI-compatible ones, a thinking budget for Anthropic); when
    /// false the control is dropped (logged at debug).
    #[serde(default = "default_reasoning")]
    pub reasoning: bool,
    /// How an OpenAI-compatible backend is asked for schema-shaped JSON.
    #[serde(default)]
    pub schema_format: SchemaFormat,
    /// The CA of an https backend's certificate (a homelab CA, for an
    /// Ollama on another host behind nginx), trusted besides the system's,
    /// and a client certificate when the backend asks for one.
    #[serde(default)]
    pub tls: hwc_ai_runtime::client::TlsConfig,
}

/// The `response_format` an OpenAI-compatible backend takes for a schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaFormat {
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`:
    /// OpenAI, Ollama, vLLM, llama.cpp's server.
    #[default]
    JsonSchema,
    /// `{"type": "json_object", "schema": ...}`: llama-cpp-python's server,
    /// which refuses `json_schema`.
    JsonObject,
}

fn default_reasoning() -> bool {
    true
}

impl BackendConfig {
    /// Whether requests to this backend stay on this host.
    pub fn is_local(&self) -> bool {
        match self.base_url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfig {
    /// A model name clients ask for: exact (`llama3.2:3b`), an alias
    /// (`local-fast`), or a glob with `*` and `?` (`gpt-*`).
    pub model: String,
    /// Tried in order; the next one only when the previous failed before
    /// sending its first byte.
    pub targets: Vec<TargetConfig>,
}

impl TargetConfig {
    /// The backends of this target's tier, in config order.
    pub fn backend_names(&self) -> Vec<&str> {
        self.backend
            .iter()
            .chain(&self.backends)
            .map(String::as_str)
            .collect()
    }
}

impl RouteConfig {
    pub fn is_glob(&self) -> bool {
        self.model.contains(['*', '?'])
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetConfig {
    /// One backend; or, with `backends`, several that are equally preferred
    /// (one tier: balanced, not tried in order).
    pub backend: Option<String>,
    /// Several backends in one tier, balanced by whether they have the model
    /// (loaded), by conversation and by outstanding requests.
    #[serde(default)]
    pub backends: Vec<String>,
    /// The upstream model name; the requested name when absent.
    pub model: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub first_byte_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    /// Requests whose estimated prompt is larger skip this target (for a
    /// small-context model ahead of a larger-context one).
    pub max_prompt_tokens: Option<u64>,
}

impl Common for Config {
    fn listen(&self) -> &str {
        &self.listen
    }
    fn log(&self) -> &LogConfig {
        &self.log
    }
    fn tracing(&self) -> Option<&hwc_ai_runtime::otel::TracingConfig> {
        self.tracing.as_ref()
    }
}

/// A model name or pattern: printable, no spaces, bounded (it is a label).
fn check_model(path: &str, model: &str) -> Result<(), ConfigError> {
    let ok = !model.is_empty() && model.len() <= 128 && model.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!("`{model}` is not a model name (1-128 printable characters, no spaces)"),
        ))
    }
}

fn check_positive(path: &str, value: Option<Duration>) -> Result<(), ConfigError> {
    value.map_or(Ok(()), |d| config::check_positive(path, d))
}

fn check_at_least_one(path: &str, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::at(path, "must be at least 1"))
    } else {
        Ok(())
    }
}

/// Checked with the config it is laid over.
impl Validate for ProfilesFile {
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

impl Validate for Config {
    fn complete(self) -> Result<Self, ConfigError> {
        self.with_profiles_file()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_listen("listen", &self.listen)?;
        if let Some(tracing) = &self.tracing {
            tracing.check("tracing")?;
        }
        check_at_least_one("maxBodyBytes", self.max_body_bytes)?;
        check_at_least_one("maxResponseBytes", self.max_response_bytes)?;
        check_positive(
            "defaults.firstByteTimeout",
            Some(self.defaults.first_byte_timeout),
        )?;
        check_positive("defaults.timeout", Some(self.defaults.timeout))?;
        check_positive("defaults.idleTimeout", Some(self.defaults.idle_timeout))?;
        check_at_least_one("defaults.maxConcurrent", self.defaults.max_concurrent)?;
        if self.circuit_breaker.failure_threshold == 0 {
            return Err(ConfigError::at(
                "circuitBreaker.failureThreshold",
                "must be at least 1",
            ));
        }
        check_positive(
            "circuitBreaker.cooldown",
            Some(self.circuit_breaker.cooldown),
        )?;

        self.clients.check("clients", "router")?;

        if self.backends.is_empty() {
            return Err(ConfigError::at(
                "backends",
                "at least one backend is required",
            ));
        }
        let mut backends = HashSet::new();
        for (i, backend) in self.backends.iter().enumerate() {
            let path = format!("backends[{i}]");
            let at = |field: &str| format!("{path}.{field}");
            check_name(&at("name"), &backend.name)?;
            if !backends.insert(backend.name.as_str()) {
                return Err(ConfigError::at(
                    at("name"),
                    format!("`{}` is used by another backend", backend.name),
                ));
            }
            let url = &backend.base_url;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::at(
                    at("baseUrl"),
                    format!("scheme `{}` is not http or https", url.scheme()),
                ));
            }
            if url.host().is_none() {
                return Err(ConfigError::at(at("baseUrl"), "URL has no host"));
            }
            backend.tls.check(&at("tls"), Default::default())?;
            if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
                return Err(ConfigError::at(
                    at("baseUrl"),
                    "credentials and query strings do not belong in the URL; use apiKey",
                ));
            }
            // Privacy first: a prompt leaves the host only where the
            // operator said so in as many words, not because a URL was
            // copied from an example.
            match (backend.is_local(), backend.remote) {
                (false, false) => {
                    return Err(ConfigError::at(
                        at("baseUrl"),
                        format!(
                            "`{}` is not on this host; set `remote: true` on this backend to \
                             let requests leave it",
                            url.host_str().unwrap_or_default()
                        ),
                    ))
                }
                (true, true) => {
                    return Err(ConfigError::at(
                        at("remote"),
                        "the base URL is on this host (loopback); remove `remote`",
                    ))
                }
                _ => {}
            }
            if let Some(key) = &backend.api_key {
                key.check(&at("apiKey"))?;
            }
            if let Some(n) = backend.max_concurrent {
                check_at_least_one(&at("maxConcurrent"), n)?;
            }
            if backend.discover && backend.kind != BackendKind::OpenaiCompatible {
                return Err(ConfigError::at(
                    at("discover"),
                    "discovery asks an Ollama (`/api/tags`, `/api/ps`); this backend is not \
                     `openai-compatible`",
                ));
            }
        }

        if self.routes.is_empty() && self.profiles.is_empty() {
            return Err(ConfigError::at(
                "routes",
                "at least one route or profile is required",
            ));
        }
        let mut models = HashSet::new();
        for (i, route) in self.routes.iter().enumerate() {
            let path = format!("routes[{i}]");
            check_model(&format!("{path}.model"), &route.model)?;
            if !models.insert(route.model.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.model"),
                    format!("`{}` is routed twice", route.model),
                ));
            }
            check_targets(&path, &route.targets, &backends)?;
        }
        for (i, profile) in self.profiles.iter().enumerate() {
            let path = format!("profiles[{i}]");
            profile.check(&path, &backends)?;
            if profile.name.contains(['*', '?']) {
                return Err(ConfigError::at(
                    format!("{path}.name"),
                    "a profile name is a name, not a pattern",
                ));
            }
            if !models.insert(profile.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.name"),
                    format!("`{}` is already a route or profile", profile.name),
                ));
            }
        }
        check_positive("defaults.budget", Some(self.defaults.budget))?;
        check_positive(
            "defaults.discoverInterval",
            Some(self.defaults.discover_interval),
        )?;
        Ok(())
    }
}

impl ProfileConfig {
    fn check(&self, path: &str, backends: &HashSet<&str>) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{path}.{field}");
        check_model(&at("name"), &self.name)?;
        check_targets(path, &self.targets, backends)?;
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(ConfigError::at(
                    at("temperature"),
                    "must be between 0 and 2",
                ));
            }
        }
        if self.max_tokens == Some(0) {
            return Err(ConfigError::at(at("maxTokens"), "must be at least 1"));
        }
        check_positive(&at("timeout"), self.timeout)?;
        for key in self.params.keys() {
            if RESERVED_PARAMS.contains(&key.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.params.{key}"),
                    "is set by the router, not by a profile",
                ));
            }
        }
        Ok(())
    }
}

fn check_targets(
    path: &str,
    targets: &[TargetConfig],
    backends: &HashSet<&str>,
) -> Result<(), ConfigError> {
    if targets.is_empty() {
        return Err(ConfigError::at(
            format!("{path}.targets"),
            "at least one target is required",
        ));
    }
    for (j, target) in targets.iter().enumerate() {
        let at = |field: &str| format!("{path}.targets[{j}].{field}");
        match (&target.backend, target.backends.is_empty()) {
            (None, true) => {
                return Err(ConfigError::at(
                    format!("{path}.targets[{j}]"),
                    "name its `backend`, or several equally preferred `backends`",
                ))
            }
            (Some(_), false) => {
                return Err(ConfigError::at(
                    at("backends"),
                    "set `backend` or `backends`, not both",
                ))
            }
            _ => {}
        }
        let mut seen = HashSet::new();
        for (k, name) in target.backend_names().into_iter().enumerate() {
            let field = if target.backend.is_some() {
                at("backend")
            } else {
                format!("{}[{k}]", at("backends"))
            };
            if !backends.contains(name) {
                return Err(ConfigError::at(
                    field,
                    format!("no backend is named `{name}`"),
                ));
            }
            if !seen.insert(name) {
                return Err(ConfigError::at(field, format!("`{name}` is listed twice")));
            }
        }
        if let Some(model) = &target.model {
            check_model(&at("model"), model)?;
        }
        if target
            .model
            .as_deref()
            .is_some_and(|m| m.contains(['*', '?']))
        {
            return Err(ConfigError::at(
                at("model"),
                "an upstream model is a name, not a pattern",
            ));
        }
        check_positive(&at("firstByteTimeout"), target.first_byte_timeout)?;
        check_positive(&at("timeout"), target.timeout)?;
        check_positive(&at("idleTimeout"), target.idle_timeout)?;
        if target.max_prompt_tokens == Some(0) {
            return Err(ConfigError::at(at("maxPromptTokens"), "must be at least 1"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwc_ai_runtime::config::parse;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "backends": [{"name": "ollama", "kind": "openai-compatible",
                          "baseUrl": "http://127.0.0.1:11434/v1"}],
            "routes": [{"model": "local-fast",
                        "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]}]
        })
    }

    fn err(doc: serde_json::Value) -> ConfigError {
        parse::<Config>(&doc.to_string()).unwrap_err()
    }

    #[test]
    fn minimal_config_takes_the_defaults() {
        let config = parse::<Config>(&base().to_string()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9432");
        assert_eq!(config.defaults.first_byte_timeout, Duration::from_secs(60));
        assert_eq!(config.circuit_breaker.failure_threshold, 3);
        assert!(config.clients.allow_unauthenticated_loopback);
        assert!(config.backends[0].is_local());
    }

    #[test]
    fn errors_name_the_field() {
        let mut doc = base();
        doc["routes"][0]["targets"][0]["backend"] = json!("olama");
        let e = err(doc);
        assert_eq!(e.path, "routes[0].targets[0].backend");
        assert!(e.message.contains("olama"), "{e}");

        let mut doc = base();
        doc["backends"][0]["kind"] = json!("antropic");
        assert_eq!(err(doc).path, "backends[0].kind");

        let mut doc = base();
        doc["backends"][0]["baseUrl"] = json!("http://user:pw@host/v1");
        assert_eq!(err(doc).path, "backends[0].baseUrl");

        let mut doc = base();
        doc["routes"][0]["targets"][0]["timeout"] = json!("0s");
        assert_eq!(err(doc).path, "routes[0].targets[0].timeout");

        let mut doc = base();
        doc["routes"][0]["targets"] = json!([]);
        assert_eq!(err(doc).path, "routes[0].targets");

        let mut doc = base();
        doc["routes"][0]["tagrets"] = json!([]);
        assert_eq!(err(doc).path, "routes[0].tagrets");

        let mut doc = base();
        doc["clients"] = json!({"keys": [{"name": "bot", "key": {"file": "rel"}}]});
        assert_eq!(err(doc).path, "clients.keys[0].key.file");

        let mut doc = base();
        doc["clients"] = json!({"allowUnauthenticatedLoopback": false});
        assert_eq!(err(doc).path, "clients");
    }

    #[test]
    fn a_backends_tls_is_checked_where_it_is() {
        let mut doc = base();
        doc["backends"][0]["tls"] = json!({"caFile": "ca.pem"});
        let e = err(doc);
        assert_eq!(e.path, "backends[0].tls.caFile", "{e}");
        let mut doc = base();
        doc["backends"][0]["tls"] = json!({"serverName": "gpu"});
        assert_eq!(err(doc).path, "backends[0].tls.serverName");
        let mut doc = base();
        doc["backends"][0]["tls"] = json!({"caFile": "/etc/ssl/home-ca.pem"});
        let config = parse::<Config>(&doc.to_string()).unwrap();
        assert!(config.backends[0].tls.ca_file.is_some());
    }

    #[test]
    fn duplicates_are_rejected() {
        let mut doc = base();
        let route = doc["routes"][0].clone();
        doc["routes"].as_array_mut().unwrap().push(route);
        assert_eq!(err(doc).path, "routes[1].model");
        let mut doc = base();
        let backend = doc["backends"][0].clone();
        doc["backends"].as_array_mut().unwrap().push(backend);
        assert_eq!(err(doc).path, "backends[1].name");
    }

    #[test]
    fn profiles_are_checked_like_routes() {
        let profile = |extra: serde_json::Value| {
            let mut doc = base();
            let mut p = json!({"name": "triage", "targets": [{"backend": "ollama", "model": "m"}]});
            p.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            doc["profiles"] = json!([p]);
            doc
        };
        let config: Config = parse(&profile(json!({"temperature": 0.2})).to_string()).unwrap();
        assert_eq!(config.profiles[0].temperature, Some(0.2));
        let e = err(profile(json!({"targets": [{"backend": "olama"}]})));
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            (
                "profiles[0].targets[0].backend",
                "no backend is named `olama`"
            )
        );
        let e = err(profile(json!({"temperature": 3})));
        assert_eq!(e.path, "profiles[0].temperature");
        let e = err(profile(json!({"reasoningEffort": "max"})));
        assert_eq!(e.path, "profiles[0].reasoningEffort");
        let e = err(profile(json!({"params": {"messages": []}})));
        assert_eq!(e.path, "profiles[0].params.messages");
        let e = err(profile(json!({"name": "triage-*"})));
        assert_eq!(e.path, "profiles[0].name");
        let e = err(profile(
            json!({"name": base()["routes"][0]["model"].clone()}),
        ));
        assert_eq!(e.path, "profiles[0].name");
        assert!(
            e.message.contains("already a route or profile"),
            "{}",
            e.message
        );
        // A profile alone is enough.
        let mut doc = profile(json!({}));
        doc["routes"] = json!([]);
        parse::<Config>(&doc.to_string()).unwrap();
    }

    #[test]
    fn a_tier_names_several_backends_or_one() {
        let mut doc = base();
        doc["backends"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "gpu1", "kind": "openai-compatible",
                         "baseUrl": "http://127.0.0.1:11435/v1", "discover": true}));
        doc["routes"][0]["targets"] = json!([{"backends": ["ollama", "gpu1"]}]);
        let config = parse::<Config>(&doc.to_string()).unwrap();
        assert_eq!(
            config.routes[0].targets[0].backend_names(),
            ["ollama", "gpu1"]
        );
        assert!(config.backends[1].discover);
        let mut bad = doc.clone();
        bad["routes"][0]["targets"] = json!([{"backends": ["ollama", "gpu2"]}]);
        let e = err(bad);
        assert_eq!(e.path, "routes[0].targets[0].backends[1]");
        assert!(e.message.contains("gpu2"), "{e}");
        let mut bad = doc.clone();
        bad["routes"][0]["targets"] = json!([{"backend": "ollama", "backends": ["gpu1"]}]);
        assert_eq!(err(bad).path, "routes[0].targets[0].backends");
        let mut bad = doc.clone();
        bad["routes"][0]["targets"] = json!([{"backends": ["gpu1", "gpu1"]}]);
        assert_eq!(err(bad).path, "routes[0].targets[0].backends[1]");
        let mut bad = doc.clone();
        bad["routes"][0]["targets"] = json!([{"model": "m"}]);
        assert_eq!(err(bad).path, "routes[0].targets[0]");
        let mut bad = doc;
        bad["backends"][1]["kind"] = json!("anthropic");
        assert_eq!(err(bad).path, "backends[1].discover");
    }

    #[test]
    fn leaving_the_host_must_be_said() {
        let mut doc = base();
        doc["backends"][0]["baseUrl"] = json!("https://api.openai.com/v1");
        let e = err(doc.clone());
        assert_eq!(e.path, "backends[0].baseUrl");
        assert!(e.message.contains("remote: true"), "{e}");
        doc["backends"][0]["remote"] = json!(true);
        let config = parse::<Config>(&doc.to_string()).unwrap();
        assert!(!config.backends[0].is_local());
        let mut doc = base();
        doc["backends"][0]["remote"] = json!(true);
        assert_eq!(err(doc).path, "backends[0].remote");
        let mut doc = base();
        doc["backends"][0]["baseUrl"] = json!("http://localhost:8080/v1");
        assert!(parse::<Config>(&doc.to_string()).is_ok());
    }
}
