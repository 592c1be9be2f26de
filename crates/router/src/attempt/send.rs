//! The request in the backend kind's shape, sent within the target's own
//! bound and the request's budget, whichever ends first.

use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use serde_json::Value;
use tokio::time::timeout_at;

use super::{budget_spent, Attempt};
use crate::backend;
use crate::error::{ApiError, Failure};
use crate::table::Target;

/// When the request went out and how long it may take.
pub(super) struct Clock {
    pub sent: Instant,
    /// The target's own bound: to the first byte of a stream, to the
    /// whole answer otherwise.
    bound: Duration,
    /// The target's bound or the request's budget, whichever ends first.
    pub deadline: tokio::time::Instant,
    /// The request's budget ends before this target's own bound; then the
    /// timeout is the budget's, and not this target's failure.
    budget_first: bool,
    /// How long the answer's headers took.
    pub headers_at: Duration,
}

impl Attempt<'_> {
    /// The request sent and its answer's headers, or why the target gave
    /// none.
    pub(super) async fn send(
        &self,
        body: &mut Value,
        upstream_model: &str,
        waited: &mut Duration,
    ) -> Result<(reqwest::Response, Clock), Failure> {
        let target = self.target;
        let backend = self.backend();
        let (url, payload) =
            backend::outgoing(backend, self.endpoint, body, upstream_model, self.stream)?;
        if let Some(id) = self.debug {
            self.debug_request(id, &url, &payload);
        }
        let request = backend
            .client
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(payload);
        let request = backend::authorize(backend, request);
        // The trace goes on upstream, so an instrumented server can
        // continue it: this attempt's span when traces are exported, else
        // the caller's `traceparent` as it came.
        let request = match hwc_ai_runtime::otel::traceparent() {
            Some(traceparent) => request.header("traceparent", traceparent),
            None => match self.traceparent {
                Some(traceparent) => request.header("traceparent", traceparent.clone()),
                None => request,
            },
        };
        let bound = if self.stream {
            target.first_byte_timeout
        } else {
            target.timeout
        };
        let sent = Instant::now();
        let own_deadline = tokio::time::Instant::now() + bound;
        let mut clock = Clock {
            sent,
            bound,
            deadline: own_deadline.min(self.deadline),
            budget_first: self.deadline < own_deadline,
            headers_at: Duration::ZERO,
        };
        let outcome = timeout_at(clock.deadline, request.send()).await;
        clock.headers_at = sent.elapsed();
        *waited += clock.headers_at;
        match outcome {
            Err(_) => Err(self.timed_out(&clock)),
            Ok(Err(err)) => {
                let what = if err.is_connect() {
                    "cannot connect to"
                } else {
                    "no answer from"
                };
                Err(self.fail(
                    ApiError::upstream(format!("{what} backend `{}`", backend.name)),
                    "connect",
                ))
            }
            Ok(Ok(response)) => Ok((response, clock)),
        }
    }

    /// The clock's deadline passed: the request's budget ran out, or the
    /// target missed its own bound, which is its failure.
    pub(super) fn timed_out(&self, clock: &Clock) -> Failure {
        if clock.budget_first {
            (budget_spent(self.route), "timeout")
        } else {
            self.fail(timed_out(self.target, clock.bound), "timeout")
        }
    }

    /// The debug log of an upstream request: where it went, which headers
    /// (credentials redacted), and the body with every secret redacted.
    fn debug_request(&self, id: &str, url: &str, payload: &[u8]) {
        let auth = backend::auth_shown(self.backend());
        let shown = crate::redact::body(payload, &self.table.secrets());
        tracing::info!(id, target = %self.target.id, url, auth,
            body = %String::from_utf8_lossy(&shown), "debug: upstream request");
    }
}

fn timed_out(target: &Target, bound: Duration) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "api_error",
        "upstream_timeout",
        format!(
            "target `{}` did not answer within {}",
            target.id,
            humantime::format_duration(bound)
        ),
    )
}
