//! The puller's core: what each declared model needs, and doing it.
//!
//! A reconcile is one `/api/tags` call, then per model at most one piece of
//! work: pull what is missing (or, on an update run, what auto-updates),
//! then validate what has not been proven at its current digest. Each
//! model's work runs on its own task, so a slow or failing model holds up
//! no other; pulls share `maxConcurrentPulls` slots and validations run one
//! at a time (each loads a model into memory). A model that fails waits
//! out its own backoff; SIGHUP or `POST /reconcile` retries at once.

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
use crate::ollama::{CallError, Ollama, Reason, Tag};
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

    // ---- waiting for Ollama ----

    /// Polls `/api/version` with backoff (1 s doubling to 30 s) until Ollama
    /// answers. Returns `false` on shutdown or once `deadline` passes.
    pub async fn wait_for_ollama(&self, shutdown: &Shutdown, deadline: Option<Instant>) -> bool {
        let mut delay = Duration::from_secs(1);
        let mut attempt = 0u32;
        let url = self.ollama.url().as_str().trim_end_matches('/').to_owned();
        loop {
            match self.ollama.version().await {
                Ok(version) => {
                    if attempt > 0 {
                        tracing::info!(
                            "Ollama {version} is up at {url} after {attempt} failed attempts"
                        );
                    } else {
                        tracing::info!("Ollama {version} is up at {url}");
                    }
                    self.set_ollama(Ok(Some(version)));
                    return true;
                }
                Err(err) => {
                    attempt += 1;
                    if attempt == 1 {
                        tracing::warn!("waiting for Ollama at {url}: {err}");
                    } else {
                        tracing::debug!("Ollama at {url} still down (attempt {attempt}): {err}");
                    }
                    self.set_ollama(Err(err.message.clone()));
                    self.notify.status(&format!(
                        "waiting for Ollama at {url} (attempt {attempt}, next in {}s)",
                        delay.as_secs()
                    ));
                    if deadline.is_some_and(|d| Instant::now() + delay > d) {
                        return false;
                    }
                    if !shutdown.sleep(delay).await {
                        return false;
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn set_ollama(&self, result: Result<Option<String>, String>) {
        let mut inner = self.lock();
        match result {
            Ok(version) => {
                inner.ollama_up = Some(true);
                inner.ollama_error = None;
                if version.is_some() {
                    inner.ollama_version = version;
                }
                self.metrics.ollama_up.set(1);
            }
            Err(err) => {
                inner.ollama_up = Some(false);
                inner.ollama_error = Some(err);
                self.metrics.ollama_up.set(0);
            }
        }
    }

    fn ollama_up(&self) -> bool {
        self.lock().ollama_up == Some(true)
    }

    // ---- a reconcile ----

    /// One reconcile: list, prune, dispatch each model's work, and wait
    /// until every declared model has settled (including work started by
    /// an earlier reconcile).
    pub async fn reconcile(self: &Arc<Self>, request: Request) -> Outcome {
        let started = Instant::now();
        {
            let mut inner = self.lock();
            inner.running += 1;
            inner.last_started = Some(SystemTime::now());
        }
        let outcome = self.reconcile_inner(request).await;
        let duration = started.elapsed();
        let result = match &outcome {
            Outcome::Unreachable(_) => "unreachable",
            Outcome::Done { all_ready: true } => "success",
            Outcome::Done { all_ready: false } => "incomplete",
        };
        self.metrics
            .reconciles
            .get_or_create(&crate::metrics::ResultLabels { result })
            .inc();
        {
            let mut inner = self.lock();
            inner.running -= 1;
            inner.last_finished = Some(SystemTime::now());
            inner.last_duration = Some(duration);
            if result == "success" {
                inner.last_success = inner.last_finished;
                self.metrics
                    .reconcile_last_success
                    .set(inner.last_success.map_or(0.0, |t| store::unix(t) as f64));
            }
        }
        self.metrics.reconcile_duration.set(duration.as_secs_f64());
        tracing::debug!("reconcile {result} in {duration:?}");
        self.status(true);
        outcome
    }

    async fn reconcile_inner(self: &Arc<Self>, request: Request) -> Outcome {
        let tags = match self.ollama.tags().await {
            Ok(tags) => tags,
            Err(err) => {
                tracing::warn!("cannot list Ollama's models: {err}");
                self.set_ollama(Err(err.message.clone()));
                self.wake.notify_one();
                return Outcome::Unreachable(err.message);
            }
        };
        self.set_ollama(Ok(None));
        self.apply_tags(&tags);
        self.observe_disk();
        if self.config.prune {
            self.prune(&tags).await;
        }
        let mut changes = self.changes.subscribe();
        let now = Instant::now();
        let mut tasks = Vec::new();
        {
            let mut inner = self.lock();
            for (i, slot) in self.slots.iter().enumerate() {
                let entry = &mut inner.entries[i];
                if let Some(work) = plan(entry, &slot.spec, request, now) {
                    entry.busy = true;
                    entry.activity = Some(Activity::Queued);
                    entry.retry_at = None;
                    tasks.push(tokio::spawn(self.clone().work(i, work)));
                }
            }
        }
        if !tasks.is_empty() {
            self.status(true);
        }
        for task in tasks {
            let _ = task.await;
        }
        // Work an earlier reconcile started is part of this one's answer.
        loop {
            if !self.lock().entries.iter().any(|e| e.busy) {
                break;
            }
            if changes.changed().await.is_err() {
                break;
            }
        }
        let inner = self.lock();
        let all_ready = self
            .slots
            .iter()
            .zip(&inner.entries)
            .all(|(slot, e)| e.state(&slot.spec) == ModelState::Ready);
        Outcome::Done { all_ready }
    }

    /// Takes presence, digest and size of every model from one listing.
    fn apply_tags(&self, tags: &[Tag]) {
        let mut by_key: HashMap<String, &Tag> = HashMap::with_capacity(tags.len());
        let mut undeclared = Vec::new();
        for tag in tags {
            let key = name::key(&tag.name);
            if !self.declared.contains_key(&key) {
                undeclared.push(tag.clone());
            }
            by_key.insert(key, tag);
        }
        undeclared.sort_by(|a, b| a.name.cmp(&b.name));
        self.metrics.undeclared.set(undeclared.len() as i64);
        let mut inner = self.lock();
        inner.undeclared = undeclared;
        for (i, slot) in self.slots.iter().enumerate() {
            let entry = &mut inner.entries[i];
            if entry.busy {
                continue;
            }
            set_presence(entry, &slot.metrics, by_key.get(&slot.key).copied());
        }
    }

    /// Deletes undeclared models that `keep` does not protect.
    async fn prune(&self, tags: &[Tag]) {
        for tag in tags {
            let key = name::key(&tag.name);
            if self.declared.contains_key(&key) || self.keep.contains(&key) {
                continue;
            }
            match self.ollama.delete(&tag.name).await {
                Ok(()) => {
                    tracing::info!(
                        "pruned {} ({}, not declared and not in keep)",
                        tag.name,
                        human(tag.size)
                    );
                    self.metrics.pruned.inc();
                    let mut inner = self.lock();
                    inner.undeclared.retain(|t| t.name != tag.name);
                    self.metrics.undeclared.set(inner.undeclared.len() as i64);
                }
                Err(err) => tracing::warn!("cannot prune {}: {err}", tag.name),
            }
        }
    }

    // ---- one model's work ----

    async fn work(self: Arc<Self>, i: usize, work: Work) {
        // Ends the model's busy state however this task ends, even by a
        // panic: a model left busy would hold every later reconcile.
        let _done = Done(&self, i);
        let mut validate = work.validate;
        if let Some(kind) = work.pull {
            let permit = self.pulls.acquire().await.expect("never closed");
            self.set_activity(i, Some(Activity::Pulling));
            let result = self.pull(i).await;
            // Not pulling any more before the slot goes to the next model.
            self.set_activity(i, Some(Activity::Queued));
            drop(permit);
            match result {
                Ok(()) => match self.after_pull(i, &kind).await {
                    Ok(changed) => validate = validate && changed,
                    Err(err) => return self.failed(i, err, true),
                },
                Err(err) => {
                    if matches!(kind, PullKind::Update { .. }) {
                        self.lock().entries[i].update_pending = true;
                    }
                    return self.failed(i, err, true);
                }
            }
        }
        if validate && self.slots[i].spec.validate {
            self.set_activity(i, Some(Activity::Queued));
            let permit = self.validations.acquire().await.expect("never closed");
            self.set_activity(i, Some(Activity::Validating));
            let result = self.validate(i).await;
            drop(permit);
            self.validated(i, result);
        }
    }

    fn set_activity(&self, i: usize, activity: Option<Activity>) {
        self.lock().entries[i].activity = activity;
        self.status(true);
    }

    fn finish(&self, i: usize) {
        {
            let mut inner = self.lock();
            let entry = &mut inner.entries[i];
            entry.busy = false;
            entry.activity = None;
            entry.progress = None;
        }
        self.slots[i].metrics.progress.set(0.0);
        self.changes.send_modify(|n| *n += 1);
        self.wake.notify_one();
        self.status(true);
    }
}

/// Ends a model's work when dropped.
struct Done<'a>(&'a Puller, usize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.finish(self.1);
    }
}

impl Puller {
    /// Records a failure and schedules the model's retry.
    fn failed(&self, i: usize, err: CallError, pull: bool) {
        let name = self.name(i);
        let slot = &self.slots[i];
        let mut inner = self.lock();
        let entry = &mut inner.entries[i];
        entry.failures += 1;
        let wait = backoff(&self.config, entry.failures);
        entry.retry_at = Some((Instant::now() + wait, SystemTime::now() + wait));
        entry.error = Some(err.message.clone());
        entry.reason = Some(err.reason);
        // `--once` retries nothing: say when only when something will.
        let retry = if self.scheduled.load(std::sync::atomic::Ordering::Relaxed) {
            format!(
                "; next attempt in {}",
                humantime::format_duration(Duration::from_secs(wait.as_secs()))
            )
        } else {
            String::new()
        };
        if pull {
            let now = SystemTime::now();
            entry.last_pull = Some(LastPull {
                at: rfc3339(now),
                success: false,
                reason: Some(err.reason),
            });
            slot.metrics.last_pull_success.set(0);
            slot.metrics.last_pull_time.set(store::unix(now) as f64);
            slot.metrics.pull_failed(err.reason);
            if err.reason == Reason::Disk {
                self.metrics.disk_refusals.inc();
                tracing::error!("{err}{retry}");
            } else {
                tracing::warn!(
                    "pull of {name} failed ({}, failure {} in a row): {err}{retry}",
                    err.reason.as_str(),
                    entry.failures
                );
            }
        } else {
            tracing::warn!(
                "{name} is INVALID (failure {} in a row): {err}{retry}",
                entry.failures
            );
        }
    }

    /// After a successful pull: learns the digest from one listing and logs
    /// an update. Returns whether the model needs validating.
    async fn after_pull(&self, i: usize, kind: &PullKind) -> Result<bool, CallError> {
        let slot = &self.slots[i];
        let tags = self.ollama.tags().await?;
        let tag = tags.iter().find(|t| name::key(&t.name) == slot.key);
        let Some(tag) = tag else {
            return Err(CallError::new(
                Reason::Protocol,
                format!(
                    "pull of {} reported success but /api/tags does not list it",
                    slot.spec.name
                ),
            ));
        };
        let now = SystemTime::now();
        slot.metrics.last_pull_success.set(1);
        slot.metrics.last_pull_time.set(store::unix(now) as f64);
        let mut inner = self.lock();
        let entry = &mut inner.entries[i];
        set_presence(entry, &slot.metrics, Some(tag));
        entry.failures = 0;
        entry.retry_at = None;
        entry.error = None;
        entry.reason = None;
        entry.update_pending = false;
        entry.last_pull = Some(LastPull {
            at: rfc3339(now),
            success: true,
            reason: None,
        });
        let new = short(&tag.digest);
        match kind {
            PullKind::Missing => {
                tracing::info!("pulled {} ({}, {})", slot.spec.name, human(tag.size), new);
                Ok(true)
            }
            PullKind::Update { old } if old.as_deref() != Some(tag.digest.as_str()) => {
                let old = old.as_deref().map_or_else(|| "nothing".to_owned(), short);
                tracing::info!("updated {} from {old} to {new}", slot.spec.name);
                slot.metrics.updates.inc();
                Ok(true)
            }
            PullKind::Update { .. } => {
                tracing::info!("{} is up to date ({new})", slot.spec.name);
                Ok(!entry.proven())
            }
        }
    }

    /// Pulls one model; a connection dropped after progress resumes at
    /// once (Ollama keeps what arrived), up to three times.
    async fn pull(&self, i: usize) -> Result<(), CallError> {
        let name = self.name(i).to_owned();
        if let Some(usage) = self.observe_disk() {
            let floor = self.config.disk.min_free.0;
            if usage.free < floor {
                return Err(CallError::new(
                    Reason::Disk,
                    format!(
                        "refusing to pull {name}: {} free on {}, below the {} floor (disk.minFree)",
                        human(usage.free),
                        self.config.disk.path.display(),
                        human(floor)
                    ),
                ));
            }
        }
        tracing::info!("pulling {name}");
        let mut resumes = 0;
        loop {
            match self.pull_once(i, &name).await {
                Ok(()) => return Ok(()),
                Err((err, true)) if err.reason == Reason::Dropped && resumes < 3 => {
                    resumes += 1;
                    tracing::info!("{name}: {err}; resuming (Ollama keeps what arrived)");
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    /// One `/api/pull` stream. The flag says whether bytes arrived.
    async fn pull_once(&self, i: usize, name: &str) -> Result<(), (CallError, bool)> {
        let slot = &self.slots[i];
        let mut stream = self
            .ollama
            .pull(name, self.config.timeouts.pull_stall)
            .await
            .map_err(|e| (e, false))?;
        // Layer digest → (total, completed).
        let mut layers: Vec<(String, u64, u64)> = Vec::new();
        let mut progressed = false;
        let mut success = false;
        let mut last_log = Instant::now();
        loop {
            let line = match stream.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(err) => return Err((err, progressed)),
            };
            if let Some(message) = line.error {
                return Err((
                    CallError::new(
                        Reason::ErrorLine,
                        format!("pull of {name} failed: {message}"),
                    ),
                    progressed,
                ));
            }
            match (line.digest, line.total) {
                (Some(digest), Some(total)) if total > 0 => {
                    let completed = line.completed.unwrap_or(0).min(total);
                    match layers.iter_mut().find(|l| l.0 == digest) {
                        Some(layer) => {
                            let delta = completed.saturating_sub(layer.2);
                            if delta > 0 {
                                progressed = true;
                                slot.metrics.pull_bytes.inc_by(delta);
                                layer.2 = completed;
                            }
                        }
                        None => {
                            self.check_room(name, total - completed)
                                .map_err(|e| (e, progressed))?;
                            layers.push((digest, total, completed));
                        }
                    }
                    let progress = Progress {
                        completed_bytes: layers.iter().map(|l| l.2).sum(),
                        total_bytes: layers.iter().map(|l| l.1).sum(),
                    };
                    slot.metrics
                        .progress
                        .set(progress.completed_bytes as f64 / progress.total_bytes as f64);
                    self.lock().entries[i].progress = Some(progress);
                    self.status(false);
                    if last_log.elapsed() >= self.config.progress_log_interval {
                        last_log = Instant::now();
                        tracing::info!("{}", pulling_line(name, &progress));
                    }
                }
                _ if line.status == "success" => success = true,
                _ => tracing::debug!("{name}: {}", line.status),
            }
        }
        if success {
            Ok(())
        } else {
            Err((
                CallError::new(
                    Reason::Dropped,
                    format!("pull of {name}: stream ended before success"),
                ),
                progressed,
            ))
        }
    }

    /// Before a layer downloads: is there room for it above the floor?
    fn check_room(&self, name: &str, remaining: u64) -> Result<(), CallError> {
        let Some(usage) = self.observe_disk() else {
            return Ok(());
        };
        let floor = self.config.disk.min_free.0;
        if usage.free < floor.saturating_add(remaining) {
            return Err(CallError::new(
                Reason::Disk,
                format!(
                    "stopped pulling {name}: a {} layer needs {} free on {} above the {} floor, only {} free",
                    human(remaining),
                    human(remaining),
                    self.config.disk.path.display(),
                    human(floor),
                    human(usage.free)
                ),
            ));
        }
        Ok(())
    }

    /// Measures the models file system, updates the metrics, and warns
    /// when usage crosses the threshold. `None` when it cannot be measured
    /// (logged once): the checks then stand aside rather than block pulls.
    fn observe_disk(&self) -> Option<Usage> {
        let path = &self.config.disk.path;
        let result = self.disk.usage(path);
        let mut inner = self.lock();
        match result {
            Ok(usage) => {
                let ratio = usage.used_ratio();
                self.metrics.disk_used_ratio.set(ratio);
                self.metrics.disk_free.set(usage.free as i64);
                let threshold = self.config.disk.warn_used_ratio;
                if ratio >= threshold && !inner.disk_warned {
                    tracing::warn!(
                        "models disk {} is {:.0}% full ({} free), above the {:.0}% warning mark (disk.warnUsedRatio)",
                        path.display(),
                        ratio * 100.0,
                        human(usage.free),
                        threshold * 100.0
                    );
                    inner.disk_warned = true;
                } else if ratio < threshold && inner.disk_warned {
                    tracing::info!(
                        "models disk {} is back under {:.0}% ({:.0}% used)",
                        path.display(),
                        threshold * 100.0,
                        ratio * 100.0
                    );
                    inner.disk_warned = false;
                }
                inner.disk = Some(Ok(usage));
                inner.disk_error_logged = false;
                Some(usage)
            }
            Err(err) => {
                if !inner.disk_error_logged {
                    tracing::warn!(
                        "cannot measure the models disk {} ({err}); disk checks are off until it can",
                        path.display()
                    );
                    inner.disk_error_logged = true;
                }
                inner.disk = Some(Err(err.to_string()));
                None
            }
        }
    }

    // ---- validation ----

    /// `/api/show`, then one token (completion models) or one embedding
    /// (embedding models). Without `capabilities` (older Ollama), tries
    /// generate and falls back to embed when the model refuses generate.
    async fn validate(&self, i: usize) -> Result<&'static str, CallError> {
        let name = self.name(i);
        let timeout = self.config.timeouts.validate;
        let invalid = |err: CallError| CallError {
            reason: Reason::Invalid,
            ..err
        };
        let show = self.ollama.show(name).await.map_err(invalid)?;
        let caps = show.capabilities.unwrap_or_default();
        let has = |c: &str| caps.iter().any(|x| x == c);
        if has("completion") || (!caps.is_empty() && !has("embedding")) {
            self.ollama
                .generate_one(name, timeout)
                .await
                .map_err(invalid)?;
            Ok("completion")
        } else if has("embedding") {
            self.ollama
                .embed_one(name, timeout)
                .await
                .map_err(invalid)?;
            Ok("embedding")
        } else {
            match self.ollama.generate_one(name, timeout).await {
                Ok(()) => Ok("completion"),
                Err(err) if err.status == Some(400) => {
                    self.ollama
                        .embed_one(name, timeout)
                        .await
                        .map_err(invalid)?;
                    Ok("embedding")
                }
                Err(err) => Err(invalid(err)),
            }
        }
    }

    fn validated(&self, i: usize, result: Result<&'static str, CallError>) {
        let slot = &self.slots[i];
        match result {
            Ok(kind) => {
                let now = SystemTime::now();
                {
                    let mut inner = self.lock();
                    let entry = &mut inner.entries[i];
                    entry.valid = Some(true);
                    entry.validated_digest = entry.digest.clone();
                    entry.validated_at = Some(now);
                    entry.kind = Some(kind.to_owned());
                    entry.failures = 0;
                    entry.retry_at = None;
                    entry.error = None;
                    entry.reason = None;
                }
                slot.metrics.set_valid(true);
                tracing::info!("{} is valid ({kind} answered)", slot.spec.name);
            }
            Err(err) => {
                {
                    let mut inner = self.lock();
                    let entry = &mut inner.entries[i];
                    entry.valid = Some(false);
                    entry.validated_digest = None;
                }
                slot.metrics.set_valid(false);
                slot.metrics.validation_failures.inc();
                self.failed(i, err, false);
            }
        }
        self.save();
    }

    /// Writes the state file, if there is one.
    fn save(&self) {
        let Some(store) = &self.store else { return };
        let saved = {
            let inner = self.lock();
            let mut saved = Saved {
                last_update: inner.last_update.map(store::unix),
                ..Saved::default()
            };
            for (slot, e) in self.slots.iter().zip(&inner.entries) {
                if let (Some(true), Some(digest), Some(at)) =
                    (e.valid, &e.validated_digest, e.validated_at)
                {
                    saved.validated.insert(
                        slot.key.clone(),
                        Validated {
                            digest: digest.clone(),
                            at: store::unix(at),
                            kind: e.kind.clone(),
                        },
                    );
                }
            }
            saved
        };
        if let Err(err) = store.save(&saved) {
            tracing::warn!(
                "cannot write the state file {}: {err}",
                self.config
                    .state_file
                    .as_deref()
                    .unwrap_or_else(|| std::path::Path::new(""))
                    .display()
            );
        }
    }

    // ---- the daemon's clock ----

    /// Runs reconciles at start, every `recheckInterval`, on the update
    /// schedule and when a failed model's retry is due; waits for Ollama
    /// whenever it is down. Returns on shutdown.
    pub async fn schedule(self: Arc<Self>, shutdown: Shutdown) {
        self.scheduled
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let recheck = self.config.schedule.recheck_interval;
        let mut next_recheck = Instant::now();
        let mut next_update = {
            let last = self.lock().last_update;
            let from_last = last.and_then(|t| {
                (t + self.config.schedule.update_interval)
                    .duration_since(SystemTime::now())
                    .ok()
            });
            match (last, from_last) {
                (Some(_), Some(wait)) => Instant::now() + wait,
                // Overdue (the daemon was off): after a random delay.
                (Some(_), None) => Instant::now() + self.random_delay(),
                (None, _) => Instant::now() + self.update_wait(),
            }
        };
        self.set_next_update(next_update);
        let mut force = false;
        loop {
            if shutdown.is_triggered() {
                return;
            }
            if !self.ollama_up() {
                if !self.wait_for_ollama(&shutdown, None).await {
                    return;
                }
                // Back (or up for the first time): look at once, and retry
                // what failed while it was away.
                next_recheck = Instant::now();
                force = true;
            }
            let now = Instant::now();
            let update = now >= next_update;
            let retry = self.earliest_retry().is_some_and(|t| t <= now);
            if now >= next_recheck || update || retry {
                next_recheck = now + recheck;
                if update {
                    next_update = now + self.update_wait();
                    self.set_next_update(next_update);
                    self.lock().last_update = Some(SystemTime::now());
                    self.save();
                    tracing::info!("update run: re-pulling autoUpdate models");
                }
                let request = Request {
                    force,
                    update,
                    revalidate: false,
                };
                force = false;
                let this = self.clone();
                tokio::spawn(async move { this.reconcile(request).await });
                // Let the reconcile claim its models before the retry check.
                tokio::task::yield_now().await;
            }
            let mut wake_at = next_recheck.min(next_update);
            if let Some(retry) = self.earliest_retry().filter(|t| *t > Instant::now()) {
                wake_at = wake_at.min(retry);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(wake_at.into()) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    fn update_wait(&self) -> Duration {
        self.config.schedule.update_interval + self.random_delay()
    }

    fn random_delay(&self) -> Duration {
        let max = self.config.schedule.randomized_delay.as_millis() as u64;
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::rng().random_range(0..=max))
    }

    fn set_next_update(&self, at: Instant) {
        let wall = SystemTime::now() + at.saturating_duration_since(Instant::now());
        self.lock().next_update = Some(wall);
    }

    /// The soonest retry of an idle model that a reconcile would act on.
    fn earliest_retry(&self) -> Option<Instant> {
        let inner = self.lock();
        self.slots
            .iter()
            .zip(&inner.entries)
            .filter(|(slot, e)| {
                !e.busy && (!e.present || e.update_pending || (slot.spec.validate && !e.proven()))
            })
            .filter_map(|(_, e)| e.retry_at.map(|r| r.0))
            .min()
    }

    // ---- what it shows ----

    /// The `GET /models` document.
    pub fn snapshot(&self) -> ModelsDoc {
        let inner = self.lock();
        let mut models: Vec<ModelReport> = self
            .slots
            .iter()
            .zip(&inner.entries)
            .map(|(slot, e)| ModelReport {
                name: slot.spec.name.clone(),
                declared: true,
                kept: self.keep.contains(&slot.key),
                state: e.state(&slot.spec),
                present: e.present,
                digest: e.digest.clone(),
                size_bytes: e.size,
                modified_at: e.modified_at.clone(),
                auto_update: slot.spec.auto_update,
                validate: slot.spec.validate,
                valid: if e.proven() {
                    Some(true)
                } else if e.valid == Some(false) {
                    Some(false)
                } else {
                    None
                },
                validated_at: if e.proven() {
                    e.validated_at.map(rfc3339)
                } else {
                    None
                },
                kind: e.kind.clone(),
                last_pull: e.last_pull.clone(),
                error: e.error.clone(),
                reason: e.reason,
                progress: e.progress,
                failures: e.failures,
                next_retry: e.retry_at.map(|r| rfc3339(r.1)),
            })
            .collect();
        models.extend(inner.undeclared.iter().map(|t| ModelReport {
            name: t.name.clone(),
            declared: false,
            kept: self.keep.contains(&name::key(&t.name)),
            state: ModelState::Undeclared,
            present: true,
            digest: Some(t.digest.clone()),
            size_bytes: Some(t.size),
            modified_at: Some(t.modified_at.clone()),
            auto_update: false,
            validate: false,
            valid: None,
            validated_at: None,
            kind: None,
            last_pull: None,
            error: None,
            reason: None,
            progress: None,
            failures: 0,
            next_retry: None,
        }));
        let disk = inner.disk.as_ref().map(|d| {
            let (usage, error) = match d {
                Ok(u) => (Some(*u), None),
                Err(e) => (None, Some(e.clone())),
            };
            DiskReport {
                path: self.config.disk.path.display().to_string(),
                free_bytes: usage.map(|u| u.free),
                total_bytes: usage.map(|u| u.total),
                used_ratio: usage.map(|u| u.used_ratio()),
                min_free_bytes: self.config.disk.min_free.0,
                warn_used_ratio: self.config.disk.warn_used_ratio,
                error,
            }
        });
        ModelsDoc {
            service: "hwc-ai-puller".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            ollama: OllamaReport {
                url: self.ollama.url().as_str().trim_end_matches('/').to_owned(),
                reachable: inner.ollama_up,
                version: inner.ollama_version.clone(),
                error: inner.ollama_error.clone(),
            },
            reconcile: ReconcileReport {
                running: inner.running,
                last_started: inner.last_started.map(rfc3339),
                last_finished: inner.last_finished.map(rfc3339),
                last_duration_seconds: inner.last_duration.map(|d| d.as_secs_f64()),
                last_success: inner.last_success.map(rfc3339),
                next_update: inner.next_update.map(rfc3339),
            },
            disk,
            models,
        }
    }

    /// One line for `systemctl status`: what is being pulled, and counts.
    pub fn summary(&self) -> String {
        let inner = self.lock();
        let total = self.slots.len();
        let mut ready = 0;
        let mut pulling = None;
        let mut validating = None;
        let mut problems: Vec<String> = Vec::new();
        for (slot, e) in self.slots.iter().zip(&inner.entries) {
            match e.state(&slot.spec) {
                ModelState::Ready => ready += 1,
                ModelState::Pulling if pulling.is_none() => {
                    pulling = Some(match &e.progress {
                        Some(p) => pulling_line(&slot.spec.name, p),
                        None => format!("pulling {}", slot.spec.name),
                    })
                }
                ModelState::Validating => validating = Some(slot.spec.name.clone()),
                s if s.is_problem() => problems.push(format!("{} {s}", slot.spec.name)),
                _ => {}
            }
        }
        if inner.ollama_up == Some(false) {
            return format!(
                "waiting for Ollama at {}; {ready}/{total} models ready",
                self.ollama.url().as_str().trim_end_matches('/')
            );
        }
        let mut line = match (pulling, validating) {
            (Some(p), _) => format!("{p}; {ready}/{total} models ready"),
            (None, Some(v)) => format!("validating {v}; {ready}/{total} models ready"),
            (None, None) => format!("{ready}/{total} models ready"),
        };
        if !problems.is_empty() {
            let shown: Vec<_> = problems.iter().take(3).map(String::as_str).collect();
            line += &format!("; {}", shown.join(", "));
            if problems.len() > shown.len() {
                line += &format!(" and {} more", problems.len() - shown.len());
            }
        }
        line
    }

    /// Sends STATUS=; progress updates (`always` false) at most once a
    /// second.
    fn status(&self, always: bool) {
        {
            let mut last = self.last_status.lock().unwrap_or_else(|e| e.into_inner());
            if !always && last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                return;
            }
            *last = Some(Instant::now());
        }
        self.notify.status(&self.summary());
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
