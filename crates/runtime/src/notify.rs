//! sd-notify: readiness, status, watchdog and stopping.
//!
//! Every call is a no-op when `NOTIFY_SOCKET` is unset (not under systemd,
//! or `Type=simple`). A failed send is logged, never fatal: systemd's own
//! timeouts catch a daemon that cannot reach it.

use std::time::Duration;

use sd_notify::NotifyState;

/// Talks to the service manager. Disabled notifiers drop every message; the
/// all-in-one `hwc-ai up` gives each daemon one so they do not claim the
/// process's readiness one by one.
#[derive(Clone, Debug)]
pub struct Notifier {
    enabled: bool,
}

impl Notifier {
    pub fn systemd() -> Self {
        Self { enabled: true }
    }

    pub fn disabled() -> Self {
        Self { enabled: false }
    }

    /// `READY=1` with a status line. Call only once every listener is bound.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// `STATUS=...`: what the daemon is doing now (`systemctl status`).
    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// `STOPPING=1`, at the start of a graceful shutdown.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(err) = sd_notify::notify(states) {
            tracing::warn!("sd_notify failed: {err}");
        }
    }
}

/// The keep-alive period systemd asked for: half of `WATCHDOG_USEC`.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|usec| usec / 2)
}

/// Pings `WATCHDOG=1` at half of `WATCHDOG_USEC` from a task on the async
/// runtime, so a runtime that stops making progress stops the pings and
/// systemd restarts the daemon. Returns immediately when no watchdog is set.
/// It keeps pinging through a graceful drain: systemd's stop timeout, not the
/// watchdog, bounds a slow shutdown.
pub fn spawn_watchdog() {
    let Some(every) = watchdog_interval() else {
        return;
    };
    tracing::debug!("watchdog: pinging every {every:?}");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = sd_notify::notify(&[NotifyState::Watchdog]) {
                tracing::warn!("watchdog ping failed: {err}");
            }
        }
    });
}
