//! What can go wrong, on purpose: faults and speeds, per model or global.

use std::time::Duration;

/// How fast pulls progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullSpeed {
    /// Every layer takes `steps` progress lines, `tick` apart, whatever its
    /// size: progress over time, and quick.
    Steps { steps: u32, tick: Duration },
    /// A fixed rate: `bytes_per_tick` bytes every `tick`.
    Rate { bytes_per_tick: u64, tick: Duration },
}

impl Default for PullSpeed {
    /// Four lines per layer, 2 ms apart: a multi-layer pull streams over a
    /// few tens of milliseconds, enough to watch progress in a test without
    /// slowing it down.
    fn default() -> Self {
        PullSpeed::Steps {
            steps: 4,
            tick: Duration::from_millis(2),
        }
    }
}

impl PullSpeed {
    /// Bytes a layer of `total` bytes advances per tick (at least 1).
    pub fn step(&self, total: u64) -> u64 {
        match *self {
            PullSpeed::Steps { steps, .. } => total.div_ceil(u64::from(steps.max(1))).max(1),
            PullSpeed::Rate { bytes_per_tick, .. } => bytes_per_tick.max(1),
        }
    }

    /// The pause before each progress line.
    pub fn tick(&self) -> Duration {
        match *self {
            PullSpeed::Steps { tick, .. } | PullSpeed::Rate { tick, .. } => tick,
        }
    }
}

/// A fault that fires a bounded number of times, or forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault<K> {
    pub kind: K,
    /// How many more times it fires; `None` for every time.
    pub remaining: Option<u32>,
}

impl<K> Fault<K> {
    /// Fires on every request.
    pub fn always(kind: K) -> Self {
        Fault {
            kind,
            remaining: None,
        }
    }

    /// Fires on the next request only.
    pub fn once(kind: K) -> Self {
        Self::times(kind, 1)
    }

    /// Fires on the next `n` requests.
    pub fn times(kind: K, n: u32) -> Self {
        Fault {
            kind,
            remaining: Some(n),
        }
    }
}

/// An HTTP error answered before anything streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    pub message: String,
}

impl Failure {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

/// Ollama's error when a manifest cannot be fetched.
pub const PULL_MANIFEST_ERROR: &str = "pull model manifest: file does not exist";
/// What Ollama says when its model runner dies.
pub const RUNNER_ERROR: &str = "llama runner process has terminated: exit status 2";

/// What goes wrong with `/api/pull`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullFault {
    /// HTTP `status` with `{"error": message}`, nothing streamed.
    Reject(Failure),
    /// Streams (HTTP 200), then after `after_bytes` bytes of layer
    /// progress in this pull sends `{"error": message}` and ends.
    /// `after_bytes: 0` errs right after `pulling manifest`.
    ErrorLine { after_bytes: u64, message: String },
    /// Streams, then cuts the connection after `after_bytes` bytes of
    /// layer progress. What was downloaded stays, so the next pull
    /// resumes.
    Drop { after_bytes: u64 },
}

/// What goes wrong with generation (`/api/generate`, `/api/chat`,
/// `/v1/chat/completions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InferenceFault {
    /// HTTP `status` with the error, nothing streamed.
    Reject(Failure),
    /// Streams `chunks` token chunks, then an error line (native) or an
    /// error event (SSE). Non-streaming requests get HTTP 500.
    ErrorAfter { chunks: u32, message: String },
    /// Streams `chunks` token chunks, then cuts the connection.
    /// Non-streaming requests are cut before any byte.
    DropAfter { chunks: u32 },
}

/// Faults and speeds for one model, or for all (the global set). For each
/// field a model's own setting wins over the global one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Wait this long before answering (before any header).
    pub delay: Option<Duration>,
    /// Pull progress speed.
    pub pull_speed: Option<PullSpeed>,
    pub pull: Option<Fault<PullFault>>,
    /// Pause between generated token chunks when streaming.
    pub token_delay: Option<Duration>,
    pub generate: Option<Fault<InferenceFault>>,
    /// `/api/embed`, `/api/embeddings`, `/v1/embeddings`.
    pub embed: Option<Fault<Failure>>,
}

impl Faults {
    /// Nothing set.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn with_pull_speed(mut self, speed: PullSpeed) -> Self {
        self.pull_speed = Some(speed);
        self
    }

    pub fn with_pull(mut self, fault: Fault<PullFault>) -> Self {
        self.pull = Some(fault);
        self
    }

    pub fn with_token_delay(mut self, delay: Duration) -> Self {
        self.token_delay = Some(delay);
        self
    }

    pub fn with_generate(mut self, fault: Fault<InferenceFault>) -> Self {
        self.generate = Some(fault);
        self
    }

    pub fn with_embed(mut self, fault: Fault<Failure>) -> Self {
        self.embed = Some(fault);
        self
    }
}

/// Takes one firing of `slot`'s fault: returns the kind, and clears the
/// slot when its count runs out.
pub(crate) fn fire<K: Clone>(slot: &mut Option<Fault<K>>) -> Option<K> {
    let fault = slot.as_mut()?;
    let kind = fault.kind.clone();
    match &mut fault.remaining {
        None => {}
        Some(0) => {
            *slot = None;
            return None;
        }
        Some(n) => {
            *n -= 1;
            if *n == 0 {
                *slot = None;
            }
        }
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out() {
        let mut slot = Some(Fault::times(1u8, 2));
        assert_eq!(fire(&mut slot), Some(1));
        assert_eq!(fire(&mut slot), Some(1));
        assert_eq!(fire(&mut slot), None);
        let mut slot = Some(Fault::always(1u8));
        for _ in 0..5 {
            assert_eq!(fire(&mut slot), Some(1));
        }
    }

    #[test]
    fn steps_cover_a_layer() {
        let s = PullSpeed::default();
        assert_eq!(s.step(10), 3);
        assert_eq!(s.step(0), 1);
        let r = PullSpeed::Rate {
            bytes_per_tick: 100,
            tick: Duration::ZERO,
        };
        assert_eq!(r.step(10_000), 100);
    }
}
