//! Optional OpenTelemetry traces (`tracing.otlpEndpoint`): the spans a
//! query passes (`query`, `classify`, `model`, `tool`). The exporter is the
//! runtime's (`hwc_ai_runtime::otel`), installed by `serve` when the
//! section is set; the assistant joins a caller's trace and passes it on
//! to the router with these.

pub use hwc_ai_runtime::otel::{set_parent, traceparent};
