//! Shutdown: one token per process, cancelled on SIGTERM or SIGINT.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Cancelled when the daemon should stop. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.0.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once shutdown has been triggered.
    pub async fn wait(&self) {
        self.0.cancelled().await
    }

    /// A child token: cancelled with this one, or on its own.
    pub fn child(&self) -> Shutdown {
        Shutdown(self.0.child_token())
    }

    /// Sleeps for `duration` unless shutdown comes first; returns `false` when
    /// it was cut short.
    pub async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = self.wait() => false,
        }
    }
}

/// Waits for SIGTERM or SIGINT and returns the signal's name.
pub async fn signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
