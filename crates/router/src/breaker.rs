//! A circuit breaker per target: closed, open for a cooldown after
//! consecutive failures, then half-open for one trial request.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
        }
    }

    /// The value of the `circuit_state` gauge.
    fn gauge(self) -> i64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
struct Inner {
    failures: u32,
    open_until: Option<Instant>,
    /// When the half-open trial started; another trial is allowed once it
    /// is a cooldown old (a trial whose client went away never reports).
    trial: Option<Instant>,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
    gauge: Gauge,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration, gauge: Gauge) -> Self {
        gauge.set(State::Closed.gauge());
        Self {
            threshold,
            cooldown,
            inner: Mutex::new(Inner {
                failures: 0,
                open_until: None,
                trial: None,
            }),
            gauge,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a request may go to this target now. After the cooldown the
    /// first caller gets the trial; the others keep skipping it.
    pub fn allow(&self) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(until) = inner.open_until else {
            return true;
        };
        if now < until {
            return false;
        }
        match inner.trial {
            Some(started) if now.duration_since(started) < self.cooldown => false,
            _ => {
                inner.trial = Some(now);
                self.gauge.set(State::HalfOpen.gauge());
                true
            }
        }
    }

    pub fn success(&self) {
        let mut inner = self.lock();
        inner.failures = 0;
        inner.open_until = None;
        inner.trial = None;
        self.gauge.set(State::Closed.gauge());
    }

    pub fn failure(&self) {
        let mut inner = self.lock();
        inner.failures = inner.failures.saturating_add(1);
        if inner.trial.is_some() || inner.failures >= self.threshold {
            inner.open_until = Some(Instant::now() + self.cooldown);
            inner.trial = None;
            self.gauge.set(State::Open.gauge());
        }
    }

    pub fn state(&self) -> State {
        let inner = self.lock();
        match (inner.open_until, inner.trial) {
            (None, _) => State::Closed,
            (Some(_), Some(_)) => State::HalfOpen,
            (Some(until), None) if Instant::now() >= until => State::HalfOpen,
            (Some(_), None) => State::Open,
        }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.lock().failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_recovers_after_a_good_trial() {
        let b = Breaker::new(2, Duration::from_millis(300), Gauge::default());
        b.failure();
        assert!(b.allow());
        b.failure();
        assert_eq!(b.state(), State::Open);
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(350));
        assert!(b.allow(), "trial after the cooldown");
        assert!(!b.allow(), "one trial at a time");
        b.failure();
        assert_eq!(b.state(), State::Open, "a failed trial reopens");
        std::thread::sleep(Duration::from_millis(350));
        assert!(b.allow());
        b.success();
        assert_eq!(b.state(), State::Closed);
        assert!(b.allow() && b.allow());
    }
}
