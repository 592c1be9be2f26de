//! The answer classified: a status that passes the target over, a stream's
//! first chunk, a whole body read within its bound and size.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use futures_util::{Stream, StreamExt};
use tokio::time::timeout_at;

use super::send::Clock;
use super::Attempt;
use crate::backend;
use crate::error::{ApiError, Failure};
use crate::record::{Usage, UsageOnly};

impl Attempt<'_> {
    /// The status, unless it passes the target over: rate limited, a model
    /// the backend's list wrongly had, a server error, or the router's own
    /// credentials refused.
    pub(super) fn status(
        &self,
        status: StatusCode,
        upstream_model: &str,
    ) -> Result<StatusCode, Failure> {
        let target = self.target;
        let backend = self.backend();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(self.fail(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "upstream_rate_limited",
                    format!("target `{}` is rate limited (429)", target.id),
                ),
                "status_429",
            ));
        }
        if status == StatusCode::NOT_FOUND {
            if let Some(d) = &backend.discovery {
                // Its list was out of date: it lacks the model, which is not
                // a failure of the backend; the next target may have it.
                d.stale();
                return Err((
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "invalid_request_error",
                        "model_not_found",
                        format!(
                            "backend `{}` does not have model `{upstream_model}`",
                            backend.name
                        ),
                    ),
                    "model_missing",
                ));
            }
        }
        if status.is_server_error() {
            return Err(self.fail(
                ApiError::upstream(format!("target `{}` answered {status}", target.id)),
                "status_5xx",
            ));
        }
        if matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::PROXY_AUTHENTICATION_REQUIRED
        ) {
            // The client's key was good (it got this far): the router's own
            // credentials for this backend are wrong, which is the operator's
            // problem, not the client's, and another target may do.
            return Err(self.fail(
                ApiError::upstream(format!(
                    "target `{}` refused the router's credentials ({status})",
                    target.id
                )),
                "status_auth",
            ));
        }
        Ok(status)
    }

    /// A stream's first non-empty chunk within the first-byte bound, and
    /// the rest of the stream; the time to it is measured.
    pub(super) async fn first_chunk(
        &self,
        response: reqwest::Response,
        clock: &Clock,
        waited: &mut Duration,
    ) -> Result<
        (
            Bytes,
            impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
        ),
        Failure,
    > {
        let target = self.target;
        let mut upstream = response.bytes_stream();
        let first = loop {
            let next = timeout_at(clock.deadline, upstream.next()).await;
            match next {
                Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
                other => break other,
            }
        };
        let first_at = clock.sent.elapsed();
        *waited += first_at.saturating_sub(clock.headers_at);
        let chunk = match first {
            Err(_) => return Err(self.timed_out(clock)),
            Ok(None) => {
                return Err(self.fail(
                    ApiError::upstream(format!(
                        "target `{}` ended its stream before sending anything",
                        target.id
                    )),
                    "empty",
                ))
            }
            Ok(Some(Err(_))) => {
                return Err(self.fail(
                    ApiError::upstream(format!(
                        "target `{}` broke off before its first chunk",
                        target.id
                    )),
                    "broken",
                ))
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        self.table
            .metrics
            .first_chunk
            .get_or_create(&self.labels())
            .observe(first_at.as_secs_f64());
        Ok((chunk, upstream))
    }

    /// A whole answer read within the bound and `maxResponseBytes`: a
    /// success must be a JSON object (its usage counted), an error is
    /// passed on in OpenAI's shape with every secret redacted.
    pub(super) async fn whole(
        &self,
        response: reqwest::Response,
        status: StatusCode,
        clock: &Clock,
        waited: &mut Duration,
    ) -> Result<(Bytes, Option<Usage>), Failure> {
        let target = self.target;
        let backend = self.backend();
        let limit = self.table.max_response_bytes;
        let read = timeout_at(clock.deadline, read_bounded(response, limit)).await;
        *waited += clock.sent.elapsed().saturating_sub(clock.headers_at);
        let body = match read {
            Err(_) => return Err(self.timed_out(clock)),
            Ok(Err(Oversize)) => {
                return Err(self.fail(
                    ApiError::upstream(format!(
                        "target `{}` answered with more than {limit} bytes",
                        target.id
                    )),
                    "too_large",
                ))
            }
            Ok(Err(Broken)) => {
                return Err(self.fail(
                    ApiError::upstream(format!("target `{}` broke off its answer", target.id)),
                    "broken",
                ))
            }
            Ok(Ok(body)) => body,
        };
        let mut usage = None;
        let body = if status.is_success() {
            // The one parse of an answer: it must be a JSON object (a 200
            // with garbage is a broken target, not an answer), and its usage
            // is counted.
            let body = backend::answer(backend, body);
            match serde_json::from_slice::<UsageOnly>(&body) {
                Ok(parsed) => usage = parsed.usage,
                Err(_) => {
                    return Err(self.fail(
                        ApiError::upstream(format!(
                            "target `{}` answered {status} with a body that is not a JSON object",
                            target.id
                        )),
                        "invalid_body",
                    ))
                }
            }
            body
        } else {
            // An upstream error passed on to the client: some providers
            // quote the key they were sent.
            let body = backend::error_body(backend, body);
            Bytes::from(crate::redact::body(&body, &self.table.secrets()))
        };
        if let Some(id) = self.debug {
            let shown = crate::redact::body(&body, &self.table.secrets());
            tracing::info!(id, target = %target.id, status = status.as_u16(),
                body = %String::from_utf8_lossy(&shown), "debug: upstream answer");
        }
        Ok((body, usage))
    }
}

enum ReadError {
    Oversize,
    Broken,
}
use ReadError::{Broken, Oversize};

async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Bytes, ReadError> {
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > limit {
                    return Err(Oversize);
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(out)),
            Err(_) => return Err(Broken),
        }
    }
}
