//! The assistant's metrics under `hwc_ai_assistant_`. Labels are tool
//! names and fixed words, never request text or client keys.

use hwc_ai_runtime::metrics::series;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

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

#[derive(Default)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    tool_calls: Family<ToolLabels, Counter>,
    audit_rows: Counter,
    rate_limited: Counter,
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
            "Requests refused with 429",
            m.rate_limited.clone(),
        );
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

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }
}
