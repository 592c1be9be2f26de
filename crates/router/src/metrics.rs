//! The router's metrics, all under `hwc_ai_router_`. Labels are configured
//! names only (route patterns, `backend/model` targets), so they are
//! bounded; a requested model that matches no route is counted as `-`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// From 5 ms to about 5 minutes: a cached local answer to a long cloud
/// completion.
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

/// From 50 µs to 50 ms: the router's own work is sub-millisecond; anything
/// in the upper buckets is a problem worth seeing.
fn overhead_histogram() -> Histogram {
    Histogram::new([
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    ])
}

pub struct Metrics {
    pub requests: Family<Labels, Counter>,
    pub duration: Histograms,
    pub first_chunk: Histograms,
    pub overhead: Histogram,
    pub tokens: Family<Labels, Counter>,
    pub fallbacks: Family<Labels, Counter>,
    pub schema_checks: Family<Labels, Counter>,
    pub circuit_state: Family<Labels, Gauge>,
    pub in_flight: Gauge,
    pub routed: Family<Labels, Counter>,
    pub skipped: Family<Labels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            first_chunk: Family::new_with_constructor(duration_histogram),
            overhead: overhead_histogram(),
            tokens: Family::default(),
            fallbacks: Family::default(),
            schema_checks: Family::default(),
            circuit_state: Family::default(),
            in_flight: Gauge::default(),
            routed: Family::default(),
            skipped: Family::default(),
        };
        registry.register(
            "requests",
            "Requests answered, by route, final target and HTTP status (499: client went away)",
            metrics.requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from the request to the end of its answer, by route and target",
            Unit::Seconds,
            metrics.duration.clone(),
        );
        registry.register_with_unit(
            "time_to_first_chunk",
            "Streams: time from sending to a target to its first chunk, by route and target",
            Unit::Seconds,
            metrics.first_chunk.clone(),
        );
        registry.register_with_unit(
            "overhead",
            "Time the router itself added to a request: everything but waiting on upstreams",
            Unit::Seconds,
            metrics.overhead.clone(),
        );
        registry.register(
            "schema_checks",
            "Structured answers checked against their JSON schema, by route, target and result (valid, invalid)",
            metrics.schema_checks.clone(),
        );
        registry.register(
            "tokens",
            "Tokens from upstream usage reports, by route, target and direction (prompt, completion)",
            metrics.tokens.clone(),
        );
        registry.register(
            "fallbacks",
            "Requests moved past a target, by route, the target passed and why",
            metrics.fallbacks.clone(),
        );
        registry.register(
            "circuit_state",
            "Circuit breaker per target: 0 closed, 1 open, 2 half-open",
            metrics.circuit_state.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests being answered now",
            metrics.in_flight.clone(),
        );
        registry.register(
            "routed",
            "Requests answered, by backend and why it was chosen (order, sticky, loaded, least_outstanding, fallback)",
            metrics.routed.clone(),
        );
        registry.register(
            "skipped",
            "Targets not tried, by route, target and why (model_missing: its backend does not list the model)",
            metrics.skipped.clone(),
        );
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every router metric the dashboard shipped next to this crate queries
    /// is one the router exports.
    #[test]
    fn the_dashboard_queries_exported_metrics() {
        let mut registry = hwc_ai_runtime::metrics::registry("router");
        let metrics = Metrics::register(registry.sub_registry_with_prefix("hwc_ai_router"));
        // Families appear in the exposition once they have a series.
        let labels = vec![("route", "r".to_owned()), ("target", "t".to_owned())];
        metrics.requests.get_or_create(&labels).inc();
        metrics.duration.get_or_create(&labels).observe(1.0);
        metrics.first_chunk.get_or_create(&labels).observe(1.0);
        metrics.tokens.get_or_create(&labels).inc();
        metrics.fallbacks.get_or_create(&labels).inc();
        metrics.circuit_state.get_or_create(&labels).set(0);
        let exported = hwc_ai_runtime::metrics::render_classic(&registry);
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../grafana-dashboard.json")).unwrap();
        let mut queried = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for (at, _) in expr.match_indices("hwc_ai_router_") {
                    let name: String = expr[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        exported.contains(&format!("\n{name}{{"))
                            || exported.contains(&format!("\n{name} ")),
                        "{name} is not exported:\n{exported}"
                    );
                    queried += 1;
                }
            }
        }
        assert!(queried >= 10);
    }
}
