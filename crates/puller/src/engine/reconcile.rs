//! A reconcile: one `/api/tags`, prune, and each model's work dispatched.

use super::*;

impl Puller {
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

    pub(super) async fn reconcile_inner(self: &Arc<Self>, request: Request) -> Outcome {
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
    pub(super) fn apply_tags(&self, tags: &[Tag]) {
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
    pub(super) async fn prune(&self, tags: &[Tag]) {
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
}
