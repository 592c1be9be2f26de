//! Validation: a model is proven by one real inference at its digest,
//! and the proof is saved.

use super::*;

impl Puller {
    /// `/api/show`, then one token (completion models) or one embedding
    /// (embedding models). Without `capabilities` (older Ollama), tries
    /// generate and falls back to embed when the model refuses generate.
    pub(super) async fn validate(&self, i: usize) -> Result<&'static str, CallError> {
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

    pub(super) fn validated(&self, i: usize, result: Result<&'static str, CallError>) {
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
    pub(super) fn save(&self) {
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
}
