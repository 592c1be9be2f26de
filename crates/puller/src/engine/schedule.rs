//! The daemon's clock: reconciles at start, on the recheck interval, on
//! the update schedule and when a retry is due.

use super::*;

impl Puller {
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

    pub(super) fn update_wait(&self) -> Duration {
        self.config.schedule.update_interval + self.random_delay()
    }

    pub(super) fn random_delay(&self) -> Duration {
        let max = self.config.schedule.randomized_delay.as_millis() as u64;
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::rng().random_range(0..=max))
    }

    pub(super) fn set_next_update(&self, at: Instant) {
        let wall = SystemTime::now() + at.saturating_duration_since(Instant::now());
        self.lock().next_update = Some(wall);
    }

    /// The soonest retry of an idle model that a reconcile would act on.
    pub(super) fn earliest_retry(&self) -> Option<Instant> {
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
}
