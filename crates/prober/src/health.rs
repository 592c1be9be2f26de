//! The board: each target's current state, what `/health` and the
//! `hwc-ai status` table show, and where transitions are announced.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State as AxumState;
use axum::routing::get;
use axum::{Json, Router};
use hwc_ai_runtime::notify::Notifier;
use serde::Serialize;

use crate::alert::{Alert, Alerter};
use crate::check::{Outcome, Target};
use crate::config::Kind;
use crate::metrics::{Metrics, TargetMetrics};
use crate::state::{Flap, State, Transition};

pub struct Board {
    entries: Vec<Mutex<Entry>>,
    alerter: Alerter,
    notify: Notifier,
}

struct Entry {
    name: String,
    kind: Kind,
    flap: Flap,
    metrics: TargetMetrics,
    since: Option<SystemTime>,
    last_error: Option<String>,
    last_probe: Option<SystemTime>,
    last_success: Option<SystemTime>,
    last_duration: Option<f64>,
    last_status: Option<u16>,
    models: Option<u64>,
}

/// One target in `/health`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    pub name: String,
    pub kind: Kind,
    pub state: State,
    /// When the current state began (RFC 3339).
    pub since: Option<String>,
    pub last_error: Option<String>,
    pub last_probe: Option<String>,
    pub last_success: Option<String>,
    pub consecutive_failures: u32,
    pub last_duration_seconds: Option<f64>,
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<u64>,
}

/// The whole `/health` document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `ok` when no target is down, `degraded` otherwise.
    pub status: &'static str,
    pub service: &'static str,
    pub version: &'static str,
    pub targets: Vec<TargetReport>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl Board {
    pub fn new(targets: &[Target], metrics: &Metrics, alerter: Alerter, notify: Notifier) -> Self {
        let entries = targets
            .iter()
            .map(|t| {
                Mutex::new(Entry {
                    name: t.name.clone(),
                    kind: t.kind,
                    flap: Flap::new(t.failure_threshold, t.success_threshold),
                    metrics: metrics.target(&t.name, t.kind.as_str()),
                    since: None,
                    last_error: None,
                    last_probe: None,
                    last_success: None,
                    last_duration: None,
                    last_status: None,
                    models: None,
                })
            })
            .collect();
        Self {
            entries,
            alerter,
            notify,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a probe result: metrics always; on a transition, a log line,
    /// an alert and a new systemd status line.
    pub fn record(&self, index: usize, target: &Target, outcome: Outcome) {
        let now = SystemTime::now();
        let unix = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let transition = {
            let mut entry = self.entries[index].lock().expect("board lock");
            let transition = entry.flap.record(outcome.success);
            entry
                .metrics
                .observe(&outcome, entry.flap.consecutive_failures(), unix);
            entry.last_probe = Some(now);
            entry.last_duration = Some(outcome.duration.as_secs_f64());
            entry.last_status = outcome.status;
            if outcome.models.is_some() {
                entry.models = outcome.models;
            }
            if outcome.success {
                entry.last_success = Some(now);
            } else {
                entry.last_error = outcome.error.clone();
                if entry.flap.state() == State::Up {
                    tracing::info!(
                        "{} ({}): probe failed ({} of {} before DOWN): {}",
                        target.name,
                        target.kind,
                        entry.flap.consecutive_failures(),
                        target.failure_threshold,
                        outcome.error.as_deref().unwrap_or("unknown error")
                    );
                }
            }
            if let Some(t) = transition {
                entry.metrics.set_up(t.to == State::Up, unix);
                let previous_since = entry.since.replace(now);
                announce(
                    target,
                    t,
                    &outcome,
                    entry.flap.consecutive_failures(),
                    previous_since,
                    now,
                );
            }
            transition
        };
        if let Some(t) = transition {
            self.alerter.send(Alert::new(
                &target.name,
                target.kind,
                t.from,
                t.to,
                outcome.error.clone(),
            ));
            self.notify.status(&self.summary());
        }
    }

    pub fn report(&self) -> Report {
        let targets: Vec<TargetReport> = self
            .entries
            .iter()
            .map(|entry| {
                let e = entry.lock().expect("board lock");
                TargetReport {
                    name: e.name.clone(),
                    kind: e.kind,
                    state: e.flap.state(),
                    since: e.since.map(rfc3339),
                    last_error: e.last_error.clone(),
                    last_probe: e.last_probe.map(rfc3339),
                    last_success: e.last_success.map(rfc3339),
                    consecutive_failures: e.flap.consecutive_failures(),
                    last_duration_seconds: e.last_duration,
                    http_status: e.last_status,
                    models: e.models,
                }
            })
            .collect();
        let degraded = targets.iter().any(|t| t.state == State::Down);
        Report {
            status: if degraded { "degraded" } else { "ok" },
            service: "hwc-ai-prober",
            version: env!("CARGO_PKG_VERSION"),
            targets,
        }
    }

    /// One line for `systemctl status`: counts, and which targets are down.
    pub fn summary(&self) -> String {
        let (mut up, mut unknown) = (0, 0);
        let mut down = Vec::new();
        for entry in &self.entries {
            let e = entry.lock().expect("board lock");
            match e.flap.state() {
                State::Up => up += 1,
                State::Unknown => unknown += 1,
                State::Down => down.push(e.name.clone()),
            }
        }
        let mut line = format!("probing {} targets: {up} up", self.entries.len());
        if !down.is_empty() {
            let shown: Vec<_> = down.iter().take(5).map(String::as_str).collect();
            let more = down.len().saturating_sub(shown.len());
            line += &format!(", {} DOWN ({}", down.len(), shown.join(", "));
            if more > 0 {
                line += &format!(" and {more} more");
            }
            line.push(')');
        }
        if unknown > 0 {
            line += &format!(", {unknown} unknown");
        }
        line
    }
}

fn announce(
    target: &Target,
    t: Transition,
    outcome: &Outcome,
    failures: u32,
    previous_since: Option<SystemTime>,
    now: SystemTime,
) {
    let (name, kind) = (&target.name, target.kind);
    match t.to {
        State::Down => tracing::error!(
            "{name} ({kind}) is DOWN after {failures} failed probe{}: {}",
            if failures == 1 { "" } else { "s" },
            outcome.error.as_deref().unwrap_or("unknown error")
        ),
        State::Up if t.from == State::Down => {
            let down_for = previous_since
                .and_then(|since| now.duration_since(since).ok())
                .map(|d| {
                    humantime::format_duration(std::time::Duration::from_secs(d.as_secs()))
                        .to_string()
                })
                .unwrap_or_else(|| "?".to_owned());
            tracing::warn!("{name} ({kind}) is UP again after {down_for} down")
        }
        State::Up => tracing::info!("{name} ({kind}) is up"),
        State::Unknown => {}
    }
}

pub fn routes(board: Arc<Board>) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(board)
}

async fn health(AxumState(board): AxumState<Arc<Board>>) -> Json<Report> {
    Json(board.report())
}
