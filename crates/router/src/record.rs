//! One request's record: its log line and metrics, written when it is
//! dropped, and the usage it reports.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use tracing::field::Empty;

use crate::error::ApiError;
use crate::table::Table;

#[derive(Deserialize)]
pub(crate) struct UsageOnly {
    pub usage: Option<Usage>,
}

#[derive(Deserialize)]
pub(crate) struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

/// One request's log line and metrics, written when it is dropped: at the
/// end of the answer, or when the client goes away (status 499).
pub struct Record {
    pub(crate) table: Arc<Table>,
    pub(crate) id: String,
    pub(crate) client: String,
    pub(crate) model: String,
    pub(crate) route: String,
    pub(crate) target: String,
    pub(crate) status: String,
    pub(crate) error: Option<String>,
    started: Instant,
    pub(crate) prompt_tokens: Option<u64>,
    pub(crate) completion_tokens: Option<u64>,
    /// The request's span (`request`), ended with the record. Debug-level:
    /// without traces exported (or a debug log) it is disabled, and costs
    /// nothing.
    pub(crate) span: tracing::Span,
}

impl Record {
    /// The record of a request with these headers: the caller's
    /// `x-request-id` when it is a sane token, else the router's own; its
    /// span a child of the caller's `traceparent`, when traced.
    pub(crate) fn start(table: Arc<Table>, headers: &HeaderMap) -> Self {
        table.metrics.in_flight.inc();
        let given = headers.get("x-request-id").map(HeaderValue::as_bytes);
        let id = match hwc_ai_runtime::otel::caller_request_id(given) {
            Some(id) => id.to_owned(),
            None => table.next_request_id(),
        };
        let span = tracing::debug_span!(
            "request",
            request_id = %id,
            client = Empty,
            model = Empty,
            route = Empty,
            // `target` is the tracing target's own attribute.
            target.id = Empty,
            status = Empty,
            prompt_tokens = Empty,
            completion_tokens = Empty,
        );
        if !span.is_disabled() {
            if let Some(parent) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
                hwc_ai_runtime::otel::set_parent(&span, parent);
            }
        }
        Self {
            id,
            span,
            table,
            client: "-".to_owned(),
            model: "-".to_owned(),
            route: "-".to_owned(),
            target: "-".to_owned(),
            status: "499".to_owned(),
            error: None,
            started: Instant::now(),
            prompt_tokens: None,
            completion_tokens: None,
        }
    }

    /// Answers with an error (nothing was or will be streamed).
    pub(crate) fn refuse(mut self, error: ApiError) -> Response {
        self.status = error.status.as_u16().to_string();
        self.error = Some(error.message.clone());
        let mut response = error.into_response();
        if let Ok(value) = HeaderValue::from_str(&self.id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    pub(crate) fn add_usage(&mut self, usage: Usage) {
        self.prompt_tokens = usage.prompt_tokens.or(self.prompt_tokens);
        self.completion_tokens = usage.completion_tokens.or(self.completion_tokens);
    }

    pub(crate) fn stream_ended(&mut self, complete: bool) {
        if !complete {
            self.status = "stream_error".to_owned();
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let metrics = &self.table.metrics;
        metrics.in_flight.dec();
        let elapsed = self.started.elapsed();
        metrics
            .requests
            .get_or_create(&vec![
                ("route", self.route.clone()),
                ("target", self.target.clone()),
                ("status", self.status.clone()),
            ])
            .inc();
        if self.target != "-" {
            let labels = vec![
                ("route", self.route.clone()),
                ("target", self.target.clone()),
            ];
            metrics
                .duration
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
            for (direction, count) in [
                ("prompt", self.prompt_tokens),
                ("completion", self.completion_tokens),
            ] {
                if let Some(count) = count {
                    let mut labels = labels.clone();
                    labels.push(("direction", direction.to_owned()));
                    metrics.tokens.get_or_create(&labels).inc_by(count);
                }
            }
        }
        if !self.span.is_disabled() {
            // What the log line says, but never the prompt, the answer or
            // the error's text.
            let span = &self.span;
            span.record("client", self.client.as_str());
            span.record("model", self.model.as_str());
            span.record("route", self.route.as_str());
            span.record("target.id", self.target.as_str());
            span.record("status", self.status.as_str());
            if let Some(n) = self.prompt_tokens {
                span.record("prompt_tokens", n);
            }
            if let Some(n) = self.completion_tokens {
                span.record("completion_tokens", n);
            }
        }
        let tokens = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        tracing::info!(
            id = %self.id,
            client = %self.client,
            model = %self.model,
            route = %self.route,
            target = %self.target,
            status = %self.status,
            latency_ms = elapsed.as_millis() as u64,
            prompt_tokens = %tokens(self.prompt_tokens),
            completion_tokens = %tokens(self.completion_tokens),
            error = self.error.as_deref().unwrap_or("-"),
            "request"
        );
    }
}

/// A client-chosen string made safe for a log line: control characters
/// replaced, at most 128 characters.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .take(128)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_strings_cannot_forge_log_lines() {
        assert_eq!(printable("m\nINFO request id=x"), "m?INFO request id=x");
        assert_eq!(printable(&"x".repeat(500)).len(), 128);
    }
}
