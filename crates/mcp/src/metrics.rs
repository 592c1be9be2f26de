//! The gateway's metrics under `hwc_ai_mcp_`. Labels are configured server
//! names and the names of tools the servers list, never arguments or URLs.

use std::time::Duration;

use hwc_ai_runtime::metrics::series;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    pub server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub server: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub server: String,
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub server: String,
    pub tool: String,
    pub outcome: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// 1 ms to ~16 s: a local tool answers in milliseconds, a fetch in seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// How a tool call ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ToolError,
    Denied,
    UnknownTool,
    InvalidArguments,
    ServerDown,
    Timeout,
    Error,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Denied => "denied",
            Outcome::UnknownTool => "unknown_tool",
            Outcome::InvalidArguments => "invalid_arguments",
            Outcome::ServerDown => "server_down",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }
}

pub struct Metrics {
    up: Family<ServerLabels, Gauge>,
    tools: Family<ServerLabels, Gauge>,
    restarts: Family<ServerLabels, Counter>,
    checks: Family<CheckLabels, Counter>,
    check_duration: Histograms<ServerLabels>,
    calls: Family<CallLabels, Counter>,
    call_duration: Histograms<ToolLabels>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            up: Family::default(),
            tools: Family::default(),
            restarts: Family::default(),
            checks: Family::default(),
            check_duration: Family::new_with_constructor(latency_histogram),
            calls: Family::default(),
            call_duration: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "server_up",
            "Whether the server answered its last check (1) or not (0)",
            m.up.clone(),
        );
        registry.register(
            "tools",
            "Tools the server offers through the gateway (after allow, deny, readOnly)",
            m.tools.clone(),
        );
        registry.register(
            "server_restarts",
            "Times the server was started again or its session re-established",
            m.restarts.clone(),
        );
        registry.register(
            "checks",
            "Health checks (initialize when needed, then tools/list) by outcome",
            m.checks.clone(),
        );
        registry.register_with_unit(
            "check_duration",
            "Time a health check took",
            Unit::Seconds,
            m.check_duration.clone(),
        );
        registry.register(
            "tool_calls",
            "Tool calls through the gateway (MCP and OpenAPI) by outcome",
            m.calls.clone(),
        );
        registry.register_with_unit(
            "tool_call_duration",
            "Time from a tool call's arrival to its answer",
            Unit::Seconds,
            m.call_duration.clone(),
        );
        m
    }

    fn server(name: &str) -> ServerLabels {
        ServerLabels {
            server: name.to_owned(),
        }
    }

    /// Creates a server's series at 0, so a dashboard sees it before the
    /// first check.
    pub fn declare(&self, server: &str) {
        let labels = Self::server(server);
        series(&self.up, &labels).set(0);
        series(&self.tools, &labels).set(0);
        let _ = series(&self.restarts, &labels);
    }

    pub fn checked(&self, server: &str, up: bool, tools: usize, took: Duration) {
        let labels = Self::server(server);
        series(&self.up, &labels).set(i64::from(up));
        if up {
            series(&self.tools, &labels).set(tools as i64);
        }
        self.check_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        series(
            &self.checks,
            &CheckLabels {
                server: server.to_owned(),
                outcome: if up { "up" } else { "down" },
            },
        )
        .inc();
    }

    /// The server went down between checks.
    pub fn checked_down(&self, server: &str) {
        series(&self.up, &Self::server(server)).set(0);
    }

    /// Brings the restart counter up to `total`, a count kept elsewhere.
    pub fn restarts(&self, server: &str, total: u64) {
        let counter = series(&self.restarts, &Self::server(server));
        let seen = counter.get();
        if total > seen {
            counter.inc_by(total - seen);
        }
    }

    pub fn call(&self, server: &str, tool: &str, outcome: Outcome, took: Duration) {
        series(
            &self.calls,
            &CallLabels {
                server: server.to_owned(),
                tool: tool.to_owned(),
                outcome: outcome.label(),
            },
        )
        .inc();
        self.call_duration
            .get_or_create(&ToolLabels {
                server: server.to_owned(),
                tool: tool.to_owned(),
            })
            .observe(took.as_secs_f64());
    }
}
