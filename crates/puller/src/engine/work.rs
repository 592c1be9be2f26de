//! One model's work on its own task: pull (with progress and the disk
//! watched), then validate; failures back off per model.

use super::*;

impl Puller {
    pub(super) async fn work(self: Arc<Self>, i: usize, work: Work) {
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

    pub(super) fn set_activity(&self, i: usize, activity: Option<Activity>) {
        self.lock().entries[i].activity = activity;
        self.status(true);
    }

    pub(super) fn finish(&self, i: usize) {
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

    /// Records a failure and schedules the model's retry.
    pub(super) fn failed(&self, i: usize, err: CallError, pull: bool) {
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
    pub(super) async fn after_pull(&self, i: usize, kind: &PullKind) -> Result<bool, CallError> {
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
    pub(super) async fn pull(&self, i: usize) -> Result<(), CallError> {
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
    pub(super) async fn pull_once(&self, i: usize, name: &str) -> Result<(), (CallError, bool)> {
        let slot = &self.slots[i];
        let mut stream = self
            .ollama
            .pull(name, self.config.timeouts.pull_stall)
            .await
            .map_err(|e| (e, false))?;
        let mut layers = Layers::default();
        let mut progressed = false;
        let mut success = false;
        let mut last_log = Instant::now();
        loop {
            let line = match stream.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(err) => return Err((err, progressed)),
            };
            if let Some(message) = &line.error {
                return Err((
                    CallError::new(
                        Reason::ErrorLine,
                        format!("pull of {name} failed: {message}"),
                    ),
                    progressed,
                ));
            }
            match layers.take(&line) {
                Some(step) => {
                    match step {
                        LayerStep::Grew(delta) => {
                            progressed = true;
                            slot.metrics.pull_bytes.inc_by(delta);
                        }
                        LayerStep::New { remaining } => {
                            self.check_room(name, remaining)
                                .map_err(|e| (e, progressed))?;
                        }
                        LayerStep::Same => {}
                    }
                    let progress = layers.progress();
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
    pub(super) fn check_room(&self, name: &str, remaining: u64) -> Result<(), CallError> {
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
    pub(super) fn observe_disk(&self) -> Option<Usage> {
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
}

/// Ends a model's work when dropped.
struct Done<'a>(&'a Puller, usize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.finish(self.1);
    }
}
