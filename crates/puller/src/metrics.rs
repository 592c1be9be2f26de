//! The puller's metrics under `hwc_ai_puller_`. The only labels are the
//! declared model names and a failure reason from a fixed list, so the
//! series count is bounded by the config.

use std::sync::atomic::AtomicU64;

use hwc_ai_runtime::metrics::series;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::ollama::Reason;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub model: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

type GaugeF = Gauge<f64, AtomicU64>;

/// Every family the puller exports.
#[derive(Default)]
pub struct Metrics {
    present: Family<ModelLabels, Gauge>,
    valid: Family<ModelLabels, Gauge>,
    size: Family<ModelLabels, Gauge>,
    last_pull_success: Family<ModelLabels, Gauge>,
    last_pull_time: Family<ModelLabels, GaugeF>,
    progress: Family<ModelLabels, GaugeF>,
    pull_bytes: Family<ModelLabels, Counter>,
    pull_failures: Family<FailureLabels, Counter>,
    validation_failures: Family<ModelLabels, Counter>,
    updates: Family<ModelLabels, Counter>,
    pub reconcile_duration: GaugeF,
    pub reconcile_last_success: GaugeF,
    pub reconciles: Family<ResultLabels, Counter>,
    pub disk_used_ratio: GaugeF,
    pub disk_free: Gauge,
    pub disk_min_free: Gauge,
    pub disk_refusals: Counter,
    pub ollama_up: Gauge,
    pub undeclared: Gauge,
    pub pruned: Counter,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "model_present",
            "Whether Ollama holds the declared model (1) or not (0)",
            m.present.clone(),
        );
        registry.register(
            "model_valid",
            "Whether the model passed its validation inference (1) or not (0); absent until checked",
            m.valid.clone(),
        );
        registry.register_with_unit(
            "model_size",
            "Size of the model in Ollama's store",
            Unit::Bytes,
            m.size.clone(),
        );
        registry.register(
            "model_last_pull_success",
            "Whether the model's last pull succeeded (1) or failed (0)",
            m.last_pull_success.clone(),
        );
        registry.register_with_unit(
            "model_last_pull_timestamp",
            "Unix time the model's last pull ended",
            Unit::Seconds,
            m.last_pull_time.clone(),
        );
        registry.register(
            "model_pull_progress_ratio",
            "Fraction of the running pull done (bytes of the layers seen so far)",
            m.progress.clone(),
        );
        registry.register_with_unit(
            "pull",
            "Bytes Ollama reported downloaded by pulls",
            Unit::Bytes,
            m.pull_bytes.clone(),
        );
        registry.register(
            "pull_failures",
            "Failed pull attempts, by reason",
            m.pull_failures.clone(),
        );
        registry.register(
            "validation_failures",
            "Validation inferences that failed",
            m.validation_failures.clone(),
        );
        registry.register(
            "model_updates",
            "Pulls that brought a new digest",
            m.updates.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "How long the last reconcile took, pulls and validations included",
            Unit::Seconds,
            m.reconcile_duration.clone(),
        );
        registry.register_with_unit(
            "reconcile_last_success_timestamp",
            "Unix time of the last reconcile that left every declared model present and valid",
            Unit::Seconds,
            m.reconcile_last_success.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciles run, by result (success: all present and valid)",
            m.reconciles.clone(),
        );
        registry.register(
            "disk_used_ratio",
            "Fraction of the models file system in use",
            m.disk_used_ratio.clone(),
        );
        registry.register_with_unit(
            "disk_free",
            "Bytes free on the models file system",
            Unit::Bytes,
            m.disk_free.clone(),
        );
        registry.register_with_unit(
            "disk_min_free",
            "The free space pulls keep (disk.minFree): below it they are refused",
            Unit::Bytes,
            m.disk_min_free.clone(),
        );
        registry.register(
            "disk_refusals",
            "Pulls refused or stopped for lack of disk space",
            m.disk_refusals.clone(),
        );
        registry.register(
            "ollama_up",
            "Whether Ollama answered the last call (1) or not (0)",
            m.ollama_up.clone(),
        );
        registry.register(
            "undeclared_models",
            "Models Ollama holds that are not declared",
            m.undeclared.clone(),
        );
        registry.register(
            "pruned_models",
            "Undeclared models deleted by prune",
            m.pruned.clone(),
        );
        m
    }

    /// Handles to one declared model's series, looked up once.
    pub fn model(&self, model: &str) -> ModelMetrics {
        let labels = ModelLabels {
            model: model.to_owned(),
        };
        ModelMetrics {
            present: series(&self.present, &labels),
            size: series(&self.size, &labels),
            last_pull_success: series(&self.last_pull_success, &labels),
            last_pull_time: series(&self.last_pull_time, &labels),
            progress: series(&self.progress, &labels),
            pull_bytes: series(&self.pull_bytes, &labels),
            validation_failures: series(&self.validation_failures, &labels),
            updates: series(&self.updates, &labels),
            valid_family: self.valid.clone(),
            failures_family: self.pull_failures.clone(),
            labels,
        }
    }
}

pub struct ModelMetrics {
    pub present: Gauge,
    pub size: Gauge,
    pub last_pull_success: Gauge,
    pub last_pull_time: GaugeF,
    pub progress: GaugeF,
    pub pull_bytes: Counter,
    pub validation_failures: Counter,
    pub updates: Counter,
    valid_family: Family<ModelLabels, Gauge>,
    failures_family: Family<FailureLabels, Counter>,
    labels: ModelLabels,
}

impl ModelMetrics {
    /// Sets `model_valid`; the series appears only once the model has been
    /// checked, so "not yet checked" is not reported as invalid.
    pub fn set_valid(&self, valid: bool) {
        series(&self.valid_family, &self.labels).set(i64::from(valid));
    }

    pub fn pull_failed(&self, reason: Reason) {
        series(
            &self.failures_family,
            &FailureLabels {
                model: self.labels.model.clone(),
                reason: reason.as_str(),
            },
        )
        .inc();
    }
}
