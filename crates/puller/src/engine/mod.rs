//! The puller's core: what each declared model needs, and doing it.
//!
//! A reconcile is one `/api/tags` call, then per model at most one piece of
//! work: pull what is missing (or, on an update run, what auto-updates),
//! then validate what has not been proven at its current digest. Each
//! model's work runs on its own task, so a slow or failing model holds up
//! no other; pulls share `maxConcurrentPulls` slots and validations run one
//! at a time (each loads a model into memory). A model that fails waits
//! out its own backoff; SIGHUP or `POST /reconcile` retries at once.
//!
//! This file holds the state and the pure decisions (`plan`, `backoff`);
//! each stage of the daemon's life is a file: `wait` (for Ollama),
//! `reconcile`, `work` (pull), `validate`, `schedule` (the clock) and
//! `view` (what `/models` and the status line show).

mod reconcile;
mod schedule;
mod validate;
mod view;
mod wait;
mod work;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use hwc_ai_runtime::notify::Notifier;
use hwc_ai_runtime::Shutdown;
use prometheus_client::registry::Registry;
use rand::RngExt;
use tokio::sync::{watch, Notify, Semaphore};

use crate::config::{Config, ModelConfig};
use crate::disk::{human, DiskProbe, Statvfs, Usage};
use crate::metrics::{Metrics, ModelMetrics};
use crate::name::{self, ModelName};
use crate::ollama::{CallError, LayerStep, Layers, Ollama, Reason, Tag};
use crate::report::{
    DiskReport, LastPull, ModelReport, ModelState, ModelsDoc, OllamaReport, Progress,
    ReconcileReport,
};
use crate::store::{self, Saved, Store, Validated};

/// How the puller is wired to the world; tests swap the disk.
#[derive(Clone)]
pub struct Options {
    /// Measures the models directory's file system.
    pub disk: Arc<dyn DiskProbe>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            disk: Arc::new(Statvfs),
        }
    }
}

/// What a reconcile is asked to do beyond making declared models present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// Retry failed models now, ignoring their backoff.
    pub force: bool,
    /// Re-pull the autoUpdate models (the update schedule).
    pub update: bool,
    /// Validate every model again, even at a digest already proven.
    pub revalidate: bool,
}

/// How a reconcile ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ollama could not list its models.
    Unreachable(String),
    /// The reconcile ran; `all_ready` when every declared model is present
    /// and valid.
    Done { all_ready: bool },
}

/// One declared model, as configured.
struct Slot {
    spec: ModelConfig,
    key: String,
    metrics: ModelMetrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    Queued,
    Pulling,
    Validating,
}

/// One declared model's live state.
#[derive(Default)]
struct Entry {
    known: bool,
    present: bool,
    digest: Option<String>,
    size: Option<u64>,
    modified_at: Option<String>,
    busy: bool,
    activity: Option<Activity>,
    valid: Option<bool>,
    validated_digest: Option<String>,
    validated_at: Option<SystemTime>,
    kind: Option<String>,
    error: Option<String>,
    reason: Option<Reason>,
    progress: Option<Progress>,
    failures: u32,
    retry_at: Option<(Instant, SystemTime)>,
    last_pull: Option<LastPull>,
    /// An update pull failed: retried on the model's backoff, not only at
    /// the next update run.
    update_pending: bool,
}

impl Entry {
    fn state(&self, spec: &ModelConfig) -> ModelState {
        match self.activity {
            Some(Activity::Queued) => return ModelState::Queued,
            Some(Activity::Pulling) => return ModelState::Pulling,
            Some(Activity::Validating) => return ModelState::Validating,
            None => {}
        }
        if !self.known {
            ModelState::Unknown
        } else if !self.present {
            match self.reason {
                Some(Reason::Disk) => ModelState::Refused,
                Some(_) if self.failures > 0 => ModelState::Failed,
                _ => ModelState::Missing,
            }
        } else if !spec.validate || self.proven() {
            ModelState::Ready
        } else if self.valid == Some(false) {
            ModelState::Invalid
        } else {
            ModelState::Present
        }
    }

    /// Validated at the digest it has now.
    fn proven(&self) -> bool {
        self.valid == Some(true) && self.digest.is_some() && self.validated_digest == self.digest
    }
}

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    undeclared: Vec<Tag>,
    ollama_up: Option<bool>,
    ollama_version: Option<String>,
    ollama_error: Option<String>,
    running: u32,
    last_started: Option<SystemTime>,
    last_finished: Option<SystemTime>,
    last_duration: Option<Duration>,
    last_success: Option<SystemTime>,
    next_update: Option<SystemTime>,
    last_update: Option<SystemTime>,
    disk: Option<Result<Usage, String>>,
    disk_warned: bool,
    disk_error_logged: bool,
}

/// What one model's task does.
#[derive(Debug, Clone)]
struct Work {
    pull: Option<PullKind>,
    validate: bool,
}

#[derive(Debug, Clone)]
enum PullKind {
    Missing,
    Update { old: Option<String> },
}

/// The puller: declared models, their state, and the work on them.
pub struct Puller {
    config: Config,
    ollama: Ollama,
    slots: Vec<Slot>,
    declared: HashMap<String, usize>,
    keep: HashSet<String>,
    inner: Mutex<Inner>,
    metrics: Metrics,
    disk: Arc<dyn DiskProbe>,
    notify: Notifier,
    pulls: Semaphore,
    validations: Semaphore,
    /// Bumped whenever a model's task ends; reconciles wait on it.
    changes: watch::Sender<u64>,
    /// Wakes the scheduler early (Ollama found down, a model finished).
    wake: Notify,
    store: Option<Store>,
    last_status: Mutex<Option<Instant>>,
    /// The daemon's clock runs ([`Puller::schedule`]): failures are retried.
    scheduled: std::sync::atomic::AtomicBool,
}

impl Puller {
    /// Builds the puller; its metrics go into `registry` when given.
    pub fn new(
        config: Config,
        options: Options,
        notify: Notifier,
        registry: Option<&mut Registry>,
    ) -> anyhow::Result<Arc<Self>> {
        let mut scratch = Registry::default();
        let registry = registry.unwrap_or(&mut scratch);
        let metrics = Metrics::register(registry.sub_registry_with_prefix("hwc_ai_puller"));
        metrics
            .disk_min_free
            .set(i64::try_from(config.disk.min_free.0).unwrap_or(i64::MAX));
        let ollama = Ollama::new(&config.ollama_url, config.timeouts.request)?;
        let mut slots = Vec::with_capacity(config.models.len());
        let mut declared = HashMap::new();
        for (i, spec) in config.models.iter().enumerate() {
            let key = ModelName::parse(&spec.name)
                .map_err(|e| anyhow::anyhow!("models[{i}].name: {e}"))?
                .key();
            declared.insert(key.clone(), i);
            slots.push(Slot {
                spec: spec.clone(),
                key,
                metrics: metrics.model(&spec.name),
            });
        }
        let keep = config.keep.iter().map(|k| name::key(k)).collect();
        let store = config.state_file.as_deref().map(Store::new);
        let saved = store.as_ref().map(Store::load).unwrap_or_default();
        let entries = slots
            .iter()
            .map(|slot| {
                let mut entry = Entry::default();
                if let Some(v) = saved.validated.get(&slot.key) {
                    entry.valid = Some(true);
                    entry.validated_digest = Some(v.digest.clone());
                    entry.validated_at = Some(store::from_unix(v.at));
                    entry.kind = v.kind.clone();
                }
                entry
            })
            .collect();
        let inner = Inner {
            entries,
            last_update: saved.last_update.map(store::from_unix),
            ..Inner::default()
        };
        Ok(Arc::new(Self {
            pulls: Semaphore::new(config.max_concurrent_pulls),
            validations: Semaphore::new(1),
            ollama,
            slots,
            declared,
            keep,
            inner: Mutex::new(inner),
            metrics,
            disk: options.disk,
            notify,
            changes: watch::channel(0).0,
            wake: Notify::new(),
            store,
            last_status: Mutex::new(None),
            scheduled: std::sync::atomic::AtomicBool::new(false),
            config,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn name(&self, i: usize) -> &str {
        &self.slots[i].spec.name
    }
}

/// Decides one model's work for this reconcile.
fn plan(entry: &Entry, spec: &ModelConfig, request: Request, now: Instant) -> Option<Work> {
    if entry.busy || !entry.known {
        return None;
    }
    let due = request.force || entry.retry_at.is_none_or(|(at, _)| at <= now);
    if !entry.present {
        return due.then_some(Work {
            pull: Some(PullKind::Missing),
            validate: spec.validate,
        });
    }
    if spec.auto_update && (request.update || (entry.update_pending && due)) {
        return Some(Work {
            pull: Some(PullKind::Update {
                old: entry.digest.clone(),
            }),
            validate: spec.validate,
        });
    }
    if spec.validate && (request.revalidate || !entry.proven()) && due {
        return Some(Work {
            pull: None,
            validate: true,
        });
    }
    None
}

fn set_presence(entry: &mut Entry, metrics: &ModelMetrics, tag: Option<&Tag>) {
    entry.known = true;
    match tag {
        Some(tag) => {
            entry.present = true;
            entry.digest = Some(tag.digest.clone());
            entry.size = Some(tag.size);
            entry.modified_at = Some(tag.modified_at.clone());
            metrics.present.set(1);
            metrics.size.set(tag.size as i64);
            if entry.proven() {
                metrics.set_valid(true);
            }
        }
        None => {
            entry.present = false;
            entry.digest = None;
            entry.size = None;
            entry.modified_at = None;
            metrics.present.set(0);
            metrics.size.set(0);
        }
    }
}

/// `initial`, doubling per failure, capped at `max`.
fn backoff(config: &Config, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    config
        .retry
        .initial
        .saturating_mul(1 << doublings)
        .min(config.retry.max)
}

/// The first 12 hex digits of a digest, as `ollama list` shows it.
pub fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// `pulling llama3.2:3b 41% (812 MB/1.9 GB)`.
fn pulling_line(name: &str, p: &Progress) -> String {
    format!(
        "pulling {name} {}% ({}/{})",
        p.percent(),
        human(p.completed_bytes),
        human(p.total_bytes)
    )
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        hwc_ai_runtime::config::parse(r#"{"retry": {"initial": "10s", "max": "1m"}}"#).unwrap()
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let c = config();
        let secs: Vec<u64> = (1..=5).map(|n| backoff(&c, n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 60, 60]);
    }

    #[test]
    fn plan_pulls_missing_validates_unproven_and_respects_backoff() {
        let spec = ModelConfig::new("m");
        let now = Instant::now();
        let later = Some((now + Duration::from_secs(60), SystemTime::now()));
        let missing = Entry {
            known: true,
            ..Entry::default()
        };
        assert!(matches!(
            plan(&missing, &spec, Request::default(), now),
            Some(Work {
                pull: Some(PullKind::Missing),
                validate: true
            })
        ));
        let waiting = Entry {
            retry_at: later,
            ..missing
        };
        assert!(plan(&waiting, &spec, Request::default(), now).is_none());
        let forced = Request {
            force: true,
            ..Request::default()
        };
        assert!(plan(&waiting, &spec, forced, now).is_some());
        let proven = Entry {
            known: true,
            present: true,
            digest: Some("d".into()),
            valid: Some(true),
            validated_digest: Some("d".into()),
            ..Entry::default()
        };
        assert!(plan(&proven, &spec, Request::default(), now).is_none());
        let update = Request {
            update: true,
            ..Request::default()
        };
        assert!(
            plan(&proven, &spec, update, now).is_none(),
            "not autoUpdate"
        );
        let auto = ModelConfig {
            auto_update: true,
            ..spec.clone()
        };
        assert!(matches!(
            plan(&proven, &auto, update, now),
            Some(Work {
                pull: Some(PullKind::Update { .. }),
                ..
            })
        ));
        let changed = Entry {
            digest: Some("e".into()),
            ..proven
        };
        assert!(matches!(
            plan(&changed, &spec, Request::default(), now),
            Some(Work {
                pull: None,
                validate: true
            })
        ));
    }

    #[test]
    fn short_digests() {
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short("a2af6cc3eb7fa8be85"), "a2af6cc3eb7f");
    }
}
