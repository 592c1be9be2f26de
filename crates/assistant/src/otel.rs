//! Optional OpenTelemetry traces (`tracing.otlpEndpoint`): the spans a
//! query passes (`query`, `classify`, `model`, `tool`, with their fields
//! as attributes and the lines logged inside them as events) exported
//! over OTLP/HTTP by the SDK's batch processor, on a thread of its own.
//! The spans are debug-level, so they are traced whatever `log.level`
//! says; the log lines keep their own filter. Unset, none of this is
//! installed and the daemon logs exactly as the others do.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::{Config, TracingConfig};

/// Makes the W3C `traceparent` a caller sent the parent of `span`, so the
/// query joins the caller's trace. Without an exporter this does nothing.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}

/// The W3C `traceparent` of the current span, for an outgoing request
/// (the router's model call); `None` without an exporter.
pub fn traceparent() -> Option<String> {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove("traceparent")
}

/// The exporter, flushed and stopped by [`Traces::shutdown`].
pub struct Traces(SdkTracerProvider);

impl Traces {
    /// Sends what is still queued (bounded by the exporter's timeout).
    pub fn shutdown(self) {
        if let Err(err) = self.0.shutdown() {
            eprintln!("hwc-ai-assistant: the last traces could not be sent: {err}");
        }
    }
}

/// Where spans go: `<endpoint>/v1/traces`, as OTLP/HTTP names it.
pub fn traces_url(endpoint: &url::Url) -> String {
    format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'))
}

/// Installs the global subscriber: the log lines as configured, and the
/// spans of this crate to `tracing`'s receiver.
pub fn install(config: &Config, tracing: &TracingConfig) -> Result<Traces, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(&tracing.otlp_endpoint))
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("tracing.otlpEndpoint: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(tracing.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("hwc-ai-assistant");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target("hwc_ai_assistant", tracing::Level::DEBUG));
    tracing_subscriber::registry()
        .with(hwc_ai_runtime::logging::layer(&config.log))
        .with(spans)
        .try_init()
        .map_err(|e| format!("cannot install the trace exporter: {e}"))?;
    Ok(Traces(provider))
}
