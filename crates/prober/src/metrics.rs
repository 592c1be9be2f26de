//! The prober's metrics, in the blackbox_exporter's vocabulary under
//! `hwc_ai_prober_`. Labels are the configured target name and kind, never
//! a URL (URLs can carry tokens, and their number is unbounded).

use std::sync::atomic::AtomicU64;

use hwc_ai_runtime::metrics::series;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::check::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub target: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub target: String,
    pub kind: String,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    pub webhook: String,
}

type GaugeF = Gauge<f64, AtomicU64>;

/// Every family the prober exports.
#[derive(Default)]
pub struct Metrics {
    success: Family<TargetLabels, Gauge>,
    duration: Family<TargetLabels, GaugeF>,
    status_code: Family<TargetLabels, Gauge>,
    consecutive_failures: Family<TargetLabels, Gauge>,
    last_success: Family<TargetLabels, GaugeF>,
    up: Family<TargetLabels, Gauge>,
    state_since: Family<TargetLabels, GaugeF>,
    transitions: Family<TargetLabels, Counter>,
    probes: Family<ResultLabels, Counter>,
    models: Family<TargetLabels, Gauge>,
    pub alert_deliveries: Family<SinkLabels, Counter>,
    pub alert_failures: Family<SinkLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "probe_success",
            "Whether the last probe succeeded (1) or failed (0)",
            m.success.clone(),
        );
        registry.register_with_unit(
            "probe_duration",
            "How long the last probe took",
            Unit::Seconds,
            m.duration.clone(),
        );
        registry.register(
            "probe_http_status_code",
            "HTTP status of the last probe's response; 0 when none arrived",
            m.status_code.clone(),
        );
        registry.register(
            "consecutive_failures",
            "Probes failed in a row",
            m.consecutive_failures.clone(),
        );
        registry.register_with_unit(
            "last_success_timestamp",
            "Unix time of the last successful probe",
            Unit::Seconds,
            m.last_success.clone(),
        );
        registry.register(
            "target_up",
            "Target state after flap control: 1 up, 0 down; absent until known",
            m.up.clone(),
        );
        registry.register_with_unit(
            "target_state_since_timestamp",
            "Unix time the target entered its current state (target_up); absent until known",
            Unit::Seconds,
            m.state_since.clone(),
        );
        registry.register(
            "state_changes",
            "Target state transitions (unknown, up, down)",
            m.transitions.clone(),
        );
        registry.register("probes", "Probes run, by result", m.probes.clone());
        registry.register(
            "ollama_models",
            "Models an Ollama target reports in /api/tags",
            m.models.clone(),
        );
        registry.register(
            "alert_deliveries",
            "Alerts delivered, by webhook",
            m.alert_deliveries.clone(),
        );
        registry.register(
            "alert_failures",
            "Alert delivery attempts that failed or were dropped, by webhook",
            m.alert_failures.clone(),
        );
        m
    }

    /// Handles to one target's series, looked up once.
    pub fn target(&self, target: &str, kind: &str) -> TargetMetrics {
        let labels = TargetLabels {
            target: target.to_owned(),
            kind: kind.to_owned(),
        };
        let result = |result| ResultLabels {
            target: target.to_owned(),
            kind: kind.to_owned(),
            result,
        };
        TargetMetrics {
            success: series(&self.success, &labels),
            duration: series(&self.duration, &labels),
            status_code: series(&self.status_code, &labels),
            consecutive_failures: series(&self.consecutive_failures, &labels),
            last_success: series(&self.last_success, &labels),
            transitions: series(&self.transitions, &labels),
            succeeded: series(&self.probes, &result("success")),
            failed: series(&self.probes, &result("failure")),
            models: self.models.clone(),
            up_family: self.up.clone(),
            since_family: self.state_since.clone(),
            labels,
        }
    }
}

pub struct TargetMetrics {
    success: Gauge,
    duration: GaugeF,
    status_code: Gauge,
    consecutive_failures: Gauge,
    last_success: GaugeF,
    transitions: Counter,
    succeeded: Counter,
    failed: Counter,
    /// Created on the first answer: absent, not 0, while Ollama is unreachable.
    models: Family<TargetLabels, Gauge>,
    up_family: Family<TargetLabels, Gauge>,
    since_family: Family<TargetLabels, GaugeF>,
    labels: TargetLabels,
}

impl TargetMetrics {
    pub fn observe(&self, outcome: &Outcome, consecutive_failures: u32, now_unix: f64) {
        self.success.set(i64::from(outcome.success));
        self.duration.set(outcome.duration.as_secs_f64());
        self.status_code.set(outcome.status.map_or(0, i64::from));
        self.consecutive_failures
            .set(i64::from(consecutive_failures));
        if outcome.success {
            self.last_success.set(now_unix);
            self.succeeded.inc();
        } else {
            self.failed.inc();
        }
        if let Some(models) = outcome.models {
            self.models.get_or_create(&self.labels).set(models as i64);
        }
    }

    /// The state after a transition at `now_unix`: "down since 14:02" on a
    /// dashboard comes from here.
    pub fn set_up(&self, up: bool, now_unix: f64) {
        self.up_family
            .get_or_create(&self.labels)
            .set(i64::from(up));
        self.since_family.get_or_create(&self.labels).set(now_unix);
        self.transitions.inc();
    }
}
