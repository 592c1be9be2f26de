//! The assistant's metrics under `hwc_ai_assistant_`. Labels are tool
//! names and fixed words, never request text or client keys.

use hwc_ai_runtime::metrics::series;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// How a question was answered, or why it was not.
const SOURCES: [&str; 5] = [
    "model",
    "direct",
    "refusal",
    "model_unavailable",
    "audit_error",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `model`, `direct`, `refusal`, `model_unavailable`, `audit_error`.
    pub source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub tool: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClientLabels {
    /// A configured client's name (`clients.keys[].name`) or `loopback`.
    pub client: String,
}

#[derive(Default)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    tool_calls: Family<ToolLabels, Counter>,
    audit_rows: Counter,
    rate_limited: Family<ClientLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "requests",
            "Questions answered, by how (model, direct, refusal) or why not",
            m.requests.clone(),
        );
        registry.register(
            "tool_calls",
            "Tool calls, by tool and outcome (ok, error)",
            m.tool_calls.clone(),
        );
        registry.register(
            "audit_rows",
            "Rows written to the audit log",
            m.audit_rows.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with 429, by client",
            m.rate_limited.clone(),
        );
        // Every source from the start at 0: a counter that first appears
        // at 1 hides its first increase from `increase()`, and the alert on
        // `audit_error` must fire on the first failed write.
        for source in SOURCES {
            series(&m.requests, &RequestLabels { source });
        }
        m
    }

    pub fn request(&self, source: &'static str) {
        series(&self.requests, &RequestLabels { source }).inc();
    }

    pub fn tool_call(&self, tool: &'static str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        series(&self.tool_calls, &ToolLabels { tool, outcome }).inc();
    }

    pub fn audited(&self) {
        self.audit_rows.inc();
    }

    pub fn rate_limited(&self, client: &str) {
        series(
            &self.rate_limited,
            &ClientLabels {
                client: client.to_owned(),
            },
        )
        .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_exported_from_the_start() {
        let mut registry = hwc_ai_runtime::metrics::registry("assistant");
        Metrics::register(registry.sub_registry_with_prefix("hwc_ai_assistant"));
        let text = hwc_ai_runtime::metrics::render_classic(&registry);
        for source in SOURCES {
            assert!(
                text.contains(&format!(
                    "hwc_ai_assistant_requests_total{{source=\"{source}\"}} 0\n"
                )),
                "{source}: {text}"
            );
        }
    }
}
