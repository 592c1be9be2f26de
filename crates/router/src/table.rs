//! The routing table built from the config: backends with their keys and
//! concurrency bounds, routes with their ordered targets, and a circuit
//! breaker per target.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hwc_ai_runtime::{ConfigError, Secret};
use tokio::sync::Semaphore;

use crate::breaker::Breaker;
use crate::config::{BackendKind, Config, ReasoningEffort, SchemaFormat, TargetConfig};
use crate::metrics::Metrics;
use hwc_ai_runtime::auth::Clients;

pub struct Backend {
    pub name: String,
    pub kind: BackendKind,
    /// The base URL without its trailing slash.
    pub base: String,
    pub key: Option<Secret>,
    pub permits: Arc<Semaphore>,
    /// Its `maxConcurrent`: in flight is this minus the free permits.
    pub capacity: usize,
    /// Requests waiting for a permit now, and how many may.
    pub queued: std::sync::atomic::AtomicUsize,
    pub max_queue: Option<usize>,
    /// Which models it has, for a backend with `discover`.
    pub discovery: Option<crate::discovery::Discovered>,
    /// `routed_total` of this backend, by [`crate::balance::Reason`].
    pub routed: Vec<prometheus_client::metrics::counter::Counter>,
    pub queue_timeout: Duration,
    pub local: bool,
    pub list_models: bool,
    /// Takes a reasoning control; when false, one is dropped.
    pub reasoning: bool,
    pub schema_format: SchemaFormat,
    /// Its HTTP client: the router's, or one of its own that trusts its
    /// `tls.caFile` (or presents its client certificate).
    pub client: reqwest::Client,
}

impl Backend {
    /// Requests this router has sent it that are not done.
    pub fn in_flight(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }
}

pub struct Target {
    /// `backend/model`, or `backend/*` when the requested name is passed on.
    pub id: String,
    pub backend: usize,
    pub model: Option<String>,
    pub first_byte_timeout: Duration,
    pub timeout: Duration,
    pub idle_timeout: Duration,
    pub max_prompt_tokens: Option<u64>,
    /// Shared by every route that names the same `backend/model`.
    pub breaker: Arc<Breaker>,
    /// Its tier: the index of its entry in the route's `targets`.
    pub tier: usize,
}

impl Target {
    /// The model name sent upstream.
    pub fn upstream_model<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(requested)
    }
}

pub struct Route {
    pub model: String,
    pub glob: bool,
    pub targets: Vec<Target>,
    /// Whether the order of `targets` is decided per request: a tier has
    /// several backends, or a backend discovers its models.
    pub balanced: bool,
    /// Set when this route is a profile.
    pub profile: Option<Profile>,
    /// The whole request's budget across attempts.
    pub budget: Duration,
    /// Repair attempts per target when output fails its schema.
    pub schema_repairs: u32,
}

/// A profile's request defaults (see [`crate::profile`]).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub reasoning_effort: Option<ReasoningEffort>,
    pub max_depth: Option<u32>,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub strict_schema: bool,
}

pub struct Table {
    pub backends: Vec<Backend>,
    pub routes: Vec<Route>,
    pub clients: Clients,
    pub metrics: Metrics,
    /// Conversations and the backend each went to.
    pub sticky: crate::sticky::Sticky,
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
    /// Whether `x-hwc-ai-debug: 1` turns on a request's debug log.
    pub debug_requests: bool,
    /// Unix seconds at start, the `created` of `/v1/models`.
    pub started: u64,
    next_id: AtomicU64,
}

impl Table {
    /// Builds the table and reads every secret the config names.
    pub fn build(config: &Config, metrics: Metrics) -> Result<Self, ConfigError> {
        let client = hwc_ai_runtime::client::build(hwc_ai_runtime::client::builder("router"), "")?;
        let mut backends = Vec::new();
        for (i, b) in config.backends.iter().enumerate() {
            let client = if b.tls == Default::default() {
                client.clone()
            } else {
                let path = format!("backends[{i}].tls");
                let builder = b
                    .tls
                    .apply(hwc_ai_runtime::client::builder("router"), &path)?;
                hwc_ai_runtime::client::build(builder, &path)?
            };
            let capacity = b.max_concurrent.unwrap_or(config.defaults.max_concurrent);
            let key = match &b.api_key {
                Some(source) => Some(source.read(&format!("backends[{i}].apiKey"))?),
                None => None,
            };
            backends.push(Backend {
                name: b.name.clone(),
                kind: b.kind,
                base: b.base_url.as_str().trim_end_matches('/').to_owned(),
                key,
                permits: Arc::new(Semaphore::new(capacity)),
                capacity,
                queued: Default::default(),
                routed: crate::balance::Reason::ALL
                    .iter()
                    .map(|r| {
                        metrics
                            .routed
                            .get_or_create(&vec![
                                ("backend", b.name.clone()),
                                ("reason", r.as_str().to_owned()),
                            ])
                            .clone()
                    })
                    .collect(),
                max_queue: b.max_queue.or(config.defaults.max_queue),
                discovery: b.discover.then(|| {
                    crate::discovery::Discovered::new(b.base_url.as_str().trim_end_matches('/'))
                }),
                queue_timeout: config.defaults.queue_timeout,
                local: b.is_local(),
                list_models: b.list_models,
                reasoning: b.reasoning,
                schema_format: b.schema_format,
                client,
            });
        }
        let mut breakers: HashMap<String, Arc<Breaker>> = HashMap::new();
        let mut targets_of = |list: &[TargetConfig]| -> Vec<Target> {
            list.iter()
                .enumerate()
                .flat_map(|(tier, t)| {
                    t.backend_names()
                        .into_iter()
                        .map(move |name| (tier, name, t))
                })
                .map(|(tier, name, t)| {
                    let backend = backends
                        .iter()
                        .position(|b| b.name == name)
                        .expect("validated: the backend exists");
                    let id = format!("{}/{}", name, t.model.as_deref().unwrap_or("*"));
                    let breaker = breakers
                        .entry(id.clone())
                        .or_insert_with(|| {
                            let gauge = hwc_ai_runtime::metrics::series(
                                &metrics.circuit_state,
                                &vec![("target", id.clone())],
                            );
                            Arc::new(Breaker::new(
                                config.circuit_breaker.failure_threshold,
                                config.circuit_breaker.cooldown,
                                gauge,
                            ))
                        })
                        .clone();
                    Target {
                        id,
                        backend,
                        model: t.model.clone(),
                        first_byte_timeout: t
                            .first_byte_timeout
                            .unwrap_or(config.defaults.first_byte_timeout),
                        timeout: t.timeout.unwrap_or(config.defaults.timeout),
                        idle_timeout: t.idle_timeout.unwrap_or(config.defaults.idle_timeout),
                        max_prompt_tokens: t.max_prompt_tokens,
                        breaker,
                        tier,
                    }
                })
                .collect()
        };
        let mut routes = Vec::new();
        for r in &config.routes {
            let targets = targets_of(&r.targets);
            routes.push(Route {
                model: r.model.clone(),
                glob: r.is_glob(),
                balanced: balanced(&targets, &backends),
                targets,
                profile: None,
                budget: config.defaults.budget,
                schema_repairs: config.defaults.schema_repairs,
            });
        }
        for p in &config.profiles {
            let targets = targets_of(&p.targets);
            routes.push(Route {
                model: p.name.clone(),
                glob: false,
                balanced: balanced(&targets, &backends),
                targets,
                profile: Some(Profile {
                    temperature: p.temperature,
                    max_tokens: p.max_tokens,
                    reasoning_effort: p.reasoning_effort,
                    max_depth: p.max_depth,
                    params: p.params.clone(),
                    strict_schema: p.strict_schema,
                }),
                budget: p.timeout.unwrap_or(config.defaults.budget),
                schema_repairs: p.schema_repairs.unwrap_or(config.defaults.schema_repairs),
            });
        }
        Ok(Self {
            backends,
            routes,
            clients: config.clients.load("clients")?,
            metrics,
            sticky: crate::sticky::Sticky::new(config.defaults.sticky_conversations),
            max_body_bytes: config.max_body_bytes,
            max_response_bytes: config.max_response_bytes,
            debug_requests: config.debug_requests,
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            next_id: AtomicU64::new(1),
        })
    }

    /// The route for a requested model: an exact name first, then the
    /// first glob (in config order) that matches.
    pub fn resolve(&self, model: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| !r.glob && r.model == model)
            .or_else(|| {
                self.routes
                    .iter()
                    .find(|r| r.glob && glob_match(&r.model, model))
            })
    }

    /// Every key the router holds, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        self.backends
            .iter()
            .filter_map(|b| b.key.as_ref().map(|k| k.expose()))
            .chain(self.clients.secrets())
            .collect()
    }

    /// Whether any route can send a request off this host.
    pub fn leaves_host(&self) -> bool {
        self.routes
            .iter()
            .flat_map(|r| &r.targets)
            .any(|t| !self.backends[t.backend].local)
    }

    pub fn next_request_id(&self) -> String {
        format!(
            "req-{:x}-{}",
            self.started,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    pub fn summary(&self) -> String {
        let place = if self.leaves_host() {
            "some routes can leave this host"
        } else {
            "nothing leaves this host"
        };
        format!(
            "routes: {}, backends: {}; {place}",
            self.routes.len(),
            self.backends.len()
        )
    }
}

/// Whether a route's order is decided per request.
fn balanced(targets: &[Target], backends: &[Backend]) -> bool {
    targets.windows(2).any(|w| w[0].tier == w[1].tier)
        || targets
            .iter()
            .any(|t| backends[t.backend].discovery.is_some())
}

/// `*` matches any run of characters, `?` one character; nothing else is
/// special.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("gpt-*", "gpt-4o"));
        assert!(glob_match("gpt-*", "gpt-"));
        assert!(!glob_match("gpt-*", "xgpt-4o"));
        assert!(glob_match("*:3b", "llama3.2:3b"));
        assert!(glob_match("llama3.?:*b", "llama3.2:1b"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("a*b", "acbd"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }
}
