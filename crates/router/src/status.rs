//! Each backend's state now, for `/health` and `/metrics`: requests in
//! flight and waiting, and, for a backend with `discover`, the models it
//! has and has loaded. Read when asked (a scrape, a health check), so the
//! request path keeps no extra count.

use std::sync::{Arc, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use serde_json::{json, Value};

use crate::table::{Backend, Table};

/// `/health`'s `backends`: one entry per backend.
pub fn backends(table: &Table) -> Vec<Value> {
    table.backends.iter().map(backend).collect()
}

fn backend(b: &Backend) -> Value {
    let mut entry = json!({
        "name": b.name,
        "local": b.local,
        "inFlight": b.in_flight(),
        "maxConcurrent": b.capacity,
        "queued": b.queued.load(std::sync::atomic::Ordering::Relaxed),
        "maxQueue": b.max_queue,
    });
    if let Some(d) = &b.discovery {
        let catalog = d.catalog();
        let sorted = |set: &std::collections::HashSet<String>| {
            let mut names: Vec<&str> = set.iter().map(String::as_str).collect();
            names.sort_unstable();
            json!(names)
        };
        entry["models"] = json!({
            "installed": sorted(&catalog.installed),
            "loaded": sorted(&catalog.loaded),
            "listedAt": catalog.listed_at.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            "error": catalog.error,
        });
    }
    entry
}

/// The per-backend gauges, computed at each scrape.
pub struct Gauges(pub Weak<Table>);

impl Gauges {
    pub fn new(table: &Arc<Table>) -> Self {
        Self(Arc::downgrade(table))
    }
}

impl std::fmt::Debug for Gauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gauges")
    }
}

impl Collector for Gauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(table) = self.0.upgrade() else {
            return Ok(());
        };
        type Of = fn(&Backend) -> Option<i64>;
        let families: [(&str, &str, Of); 4] = [
            (
                "backend_in_flight",
                "Requests a backend is answering for this router now",
                |b| Some(b.in_flight() as i64),
            ),
            (
                "backend_queued",
                "Requests waiting for a slot on a backend at its maxConcurrent",
                |b| Some(b.queued.load(std::sync::atomic::Ordering::Relaxed) as i64),
            ),
            (
                "backend_models_installed",
                "Models a discovering backend lists as installed (/api/tags)",
                |b| Some(b.discovery.as_ref()?.catalog().installed.len() as i64),
            ),
            (
                "backend_models_loaded",
                "Models a discovering backend has loaded (/api/ps)",
                |b| Some(b.discovery.as_ref()?.catalog().loaded.len() as i64),
            ),
        ];
        for (name, help, of) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for b in &table.backends {
                if let Some(value) = of(b) {
                    let labels = [("backend", b.name.as_str())];
                    ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}
