//! Optional OpenTelemetry traces, for any daemon whose config has a
//! `tracing` section (`otlpEndpoint`, `serviceName`): the daemon's spans
//! (with their fields as attributes and the lines logged inside them as
//! events) exported over OTLP/HTTP by the SDK's batch processor, on a
//! thread of its own. The spans are debug-level, so they are traced
//! whatever `log.level` says; the log lines keep their own filter. Unset,
//! none of this is installed: the daemon logs as the others do, and its
//! debug spans are disabled at their call sites, which costs a load and a
//! compare per span.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::{ConfigError, LogConfig};

/// Where the traces go: an OTLP/HTTP receiver (an OpenTelemetry
/// Collector, Grafana Tempo, Jaeger).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TracingConfig {
    /// The receiver's base URL (`http://127.0.0.1:4318`); spans are
    /// sent to `<otlpEndpoint>/v1/traces`, protobuf-encoded.
    pub otlp_endpoint: url::Url,
    /// The `service.name` the spans carry; the unit's name
    /// (`hwc-ai-<daemon>`) when unset, which is what an operator searches
    /// for in Tempo.
    #[serde(default)]
    pub service_name: Option<String>,
}

impl TracingConfig {
    /// The section's own rules, reported under `path` (`tracing`).
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        if !matches!(self.otlp_endpoint.scheme(), "http" | "https") {
            return Err(ConfigError::at(
                format!("{path}.otlpEndpoint"),
                format!(
                    "`{}` is not an http(s) URL (OTLP over HTTP, port 4318 usually)",
                    self.otlp_endpoint
                ),
            ));
        }
        if self
            .service_name
            .as_deref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(ConfigError::at(
                format!("{path}.serviceName"),
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// The `service.name` of `daemon`'s spans.
    pub fn service_name(&self, daemon: &str) -> String {
        self.service_name
            .clone()
            .unwrap_or_else(|| format!("hwc-ai-{daemon}"))
    }
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether this process exports traces: a request path asks this before
/// doing anything for them.
pub fn enabled() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Makes the W3C `traceparent` a caller sent the parent of `span`, so the
/// work joins the caller's trace. Without an exporter this does nothing.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    if !enabled() || span.is_disabled() {
        return;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}

/// The W3C `traceparent` of the current span, for an outgoing request;
/// `None` without an exporter.
pub fn traceparent() -> Option<String> {
    if !enabled() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove("traceparent")
}

/// The exporter, flushed and stopped by [`Traces::shutdown`].
pub struct Traces {
    provider: SdkTracerProvider,
    service: String,
}

impl Traces {
    /// Sends what is still queued (bounded by the exporter's timeout).
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("{}: the last traces could not be sent: {err}", self.service);
        }
    }
}

/// Where spans go: `<endpoint>/v1/traces`, as OTLP/HTTP names it.
pub fn traces_url(endpoint: &url::Url) -> String {
    format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'))
}

/// Installs the global subscriber: the log lines as `log` says, and the
/// spans of `daemon`'s crate (`hwc_ai_<daemon>`) to `tracing`'s receiver.
pub fn install(daemon: &str, log: &LogConfig, tracing: &TracingConfig) -> Result<Traces, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(&tracing.otlp_endpoint))
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("tracing.otlpEndpoint: {e}"))?;
    let service = tracing.service_name(daemon);
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer(format!("hwc-ai-{daemon}"));
    let target = format!("hwc_ai_{}", daemon.replace(['-', ' '], "_"));
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target(target, tracing::Level::DEBUG));
    tracing_subscriber::registry()
        .with(crate::logging::layer(log))
        .with(spans)
        .try_init()
        .map_err(|e| format!("cannot install the trace exporter: {e}"))?;
    INSTALLED.store(true, Ordering::Relaxed);
    Ok(Traces { provider, service })
}

/// The caller's request id (`x-request-id`) when it is a sensible one: 1
/// to 64 letters, digits and `.-_:`, so it is safe in a log line, a
/// header and a span.
pub fn caller_request_id(given: Option<&[u8]>) -> Option<&str> {
    let given = std::str::from_utf8(given?).ok()?;
    let ok = (1..=64).contains(&given.len())
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then_some(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_are_tokens() {
        assert_eq!(caller_request_id(Some(b"bot-7f3a:1")), Some("bot-7f3a:1"));
        for bad in [&b""[..], b"a b", b"x\ny", &[b'a'; 65], b"\xff"] {
            assert_eq!(caller_request_id(Some(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bad_endpoint_or_name_is_named() {
        let parse = |text: &str| serde_json::from_str::<TracingConfig>(text).unwrap();
        let err = parse(r#"{"otlpEndpoint": "grpc://x:4317"}"#)
            .check("tracing")
            .unwrap_err();
        assert_eq!(err.path, "tracing.otlpEndpoint");
        let err = parse(r#"{"otlpEndpoint": "http://x:4318", "serviceName": " "}"#)
            .check("tracing")
            .unwrap_err();
        assert_eq!(err.path, "tracing.serviceName");
        let ok = parse(r#"{"otlpEndpoint": "http://x:4318"}"#);
        assert_eq!(ok.service_name("router"), "hwc-ai-router");
    }
}
