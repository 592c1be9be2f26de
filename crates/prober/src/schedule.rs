//! When probes run: each target on its own timer, a global cap on probes in
//! flight.
//!
//! A target is probed once soon after start (within a second, so a fresh
//! stack shows its state at once), then on its interval from a random
//! phase, so a thousand targets spread evenly instead of firing together.

use std::sync::Arc;
use std::time::Duration;

use hwc_ai_runtime::Shutdown;
use rand::RngExt;
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};

use crate::check::Target;
use crate::health::Board;

pub fn start(
    targets: Vec<Target>,
    board: Arc<Board>,
    max_concurrent: usize,
    max_body: usize,
    shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(max_concurrent));
    for (index, target) in targets.into_iter().enumerate() {
        tokio::spawn(probe_loop(
            index,
            target,
            board.clone(),
            permits.clone(),
            max_body,
            shutdown.clone(),
        ));
    }
}

async fn probe_loop(
    index: usize,
    target: Target,
    board: Arc<Board>,
    permits: Arc<Semaphore>,
    max_body: usize,
    shutdown: Shutdown,
) {
    let (first, phase) = {
        let mut rng = rand::rng();
        let soon = target.interval.min(Duration::from_secs(1));
        (
            Duration::from_millis(rng.random_range(0..=soon.as_millis() as u64)),
            Duration::from_millis(rng.random_range(0..target.interval.as_millis().max(1) as u64)),
        )
    };
    if !shutdown.sleep(first).await {
        return;
    }
    let mut ticks = tokio::time::interval_at(Instant::now() + phase, target.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let permit = tokio::select! {
            permit = permits.acquire() => permit.expect("semaphore is never closed"),
            _ = shutdown.wait() => return,
        };
        let outcome = target.probe(max_body).await;
        drop(permit);
        board.record(index, &target, outcome);
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait() => return,
        }
    }
}
