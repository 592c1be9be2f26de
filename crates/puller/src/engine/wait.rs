//! Waiting for Ollama: `/api/version` with backoff, and its state.

use super::*;

impl Puller {
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

    pub(super) fn set_ollama(&self, result: Result<Option<String>, String>) {
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

    pub(super) fn ollama_up(&self) -> bool {
        self.lock().ollama_up == Some(true)
    }
}
