//! What the puller shows: `GET /models`, the status line.

use super::*;

impl Puller {
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
    pub(super) fn status(&self, always: bool) {
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
