//! One try of one target: admission to the backend (its concurrency slot,
//! its circuit), the request in the backend kind's shape, sending within
//! the bounds, and the answer classified as good or as a reason to pass
//! the target over.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::timeout_at;

use crate::backend::{self, Endpoint};
use crate::error::{ApiError, Failure};
use crate::record::UsageOnly;
use crate::relay::Answer;
use crate::table::{Route, Table, Target};

/// One try of one target.
pub(crate) struct Attempt<'a> {
    pub table: &'a Table,
    pub route: &'a Route,
    pub target: &'a Target,
    pub endpoint: Endpoint,
    pub stream: bool,
    pub requested: &'a str,
    pub prompt_tokens: u64,
    /// The end of the request's whole budget.
    pub deadline: tokio::time::Instant,
    /// The request id, when its upstream traffic is logged.
    pub debug: Option<&'a str>,
}

impl Attempt<'_> {
    pub async fn run(&self, body: &mut Value, waited: &mut Duration) -> Result<Answer, Failure> {
        let target = self.target;
        let backend = &self.table.backends[target.backend];
        if tokio::time::Instant::now() >= self.deadline {
            return Err((budget_spent(self.route), "timeout"));
        }
        if !backend.reasoning {
            if let Some(effort) = body
                .as_object_mut()
                .and_then(|b| b.remove("reasoning_effort"))
            {
                tracing::debug!(target = %target.id, "backend takes no reasoning control: dropped reasoning_effort {effort}");
            }
        }
        if let Some(max) = target
            .max_prompt_tokens
            .filter(|&max| self.prompt_tokens > max)
        {
            return Err((
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "context_length_exceeded",
                    format!(
                        "the prompt (about {} tokens) is larger than target `{}` takes ({max})",
                        self.prompt_tokens, target.id
                    ),
                ),
                "prompt_too_large",
            ));
        }
        let permit = self.slot(waited).await?;
        let upstream_model = target.upstream_model(self.requested);
        let (url, payload) =
            backend::outgoing(backend, self.endpoint, body, upstream_model, self.stream)?;
        if let Some(id) = self.debug {
            self.debug_request(id, &url, &payload);
        }
        let request = self
            .table
            .client
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(payload);
        let request = backend::authorize(backend, request);
        let bound = if self.stream {
            target.first_byte_timeout
        } else {
            target.timeout
        };
        let sent = Instant::now();
        let own_deadline = tokio::time::Instant::now() + bound;
        // The request's budget can end before this target's own bound; then
        // the timeout is the budget's, and not this target's failure.
        let budget_first = self.deadline < own_deadline;
        let deadline = own_deadline.min(self.deadline);
        let timed_out = |this: &Self| {
            if budget_first {
                (budget_spent(this.route), "timeout")
            } else {
                this.fail(timed_out(target, bound), "timeout")
            }
        };
        let outcome = timeout_at(deadline, request.send()).await;
        let headers_at = sent.elapsed();
        *waited += headers_at;
        let response = match outcome {
            Err(_) => return Err(timed_out(self)),
            Ok(Err(err)) => {
                let what = if err.is_connect() {
                    "cannot connect to"
                } else {
                    "no answer from"
                };
                return Err(self.fail(
                    ApiError::upstream(format!("{what} backend `{}`", backend.name)),
                    "connect",
                ));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
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
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        if self.stream && status.is_success() {
            let mut upstream = response.bytes_stream();
            let first = loop {
                let next = timeout_at(deadline, upstream.next()).await;
                match next {
                    Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
                    other => break other,
                }
            };
            let first_at = sent.elapsed();
            *waited += first_at.saturating_sub(headers_at);
            let chunk = match first {
                Err(_) => return Err(timed_out(self)),
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
            // The circuit hears of a stream when it ends (see relay.rs):
            // one that breaks off after this chunk is a failure too.
            self.table
                .metrics
                .first_chunk
                .get_or_create(&self.labels())
                .observe(first_at.as_secs_f64());
            let translator = backend::stream_translator(backend, body);
            return Ok(Answer::Stream {
                content_type,
                translator,
                first: chunk,
                rest: Box::pin(upstream),
                idle: target.idle_timeout,
                permit,
                breaker: target.breaker.clone(),
            });
        }
        // A whole body: a non-streaming answer, or an upstream 4xx, which is
        // the client's problem and passed on as it came.
        let read = timeout_at(
            deadline,
            read_bounded(response, self.table.max_response_bytes),
        )
        .await;
        *waited += sent.elapsed().saturating_sub(headers_at);
        let body = match read {
            Err(_) => return Err(timed_out(self)),
            Ok(Err(Oversize)) => {
                return Err(self.fail(
                    ApiError::upstream(format!(
                        "target `{}` answered with more than {} bytes",
                        target.id, self.table.max_response_bytes
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
        target.breaker.success();
        drop(permit);
        Ok(Answer::Whole {
            status,
            content_type,
            body,
            usage,
        })
    }

    /// The backend's concurrency slot, then the target's circuit. The slot
    /// first: a half-open trial must not be spent on a request that then
    /// never reaches the target.
    async fn slot(&self, waited: &mut Duration) -> Result<OwnedSemaphorePermit, Failure> {
        let target = self.target;
        let backend = &self.table.backends[target.backend];
        let permit = match backend.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            // Queueing is waiting on the backend, not the router's work.
            Err(_) => {
                let queue = Queued::join(backend);
                if queue.is_none() {
                    return Err((
                        ApiError::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "rate_limit_error",
                            "backend_queue_full",
                            format!(
                                "backend `{}` is at its concurrency limit with {} requests \
                                 waiting; retry shortly",
                                backend.name,
                                backend.max_queue.unwrap_or_default()
                            ),
                        ),
                        "queue_full",
                    ));
                }
                let queued = Instant::now();
                let permit = tokio::time::timeout(
                    backend.queue_timeout,
                    backend.permits.clone().acquire_owned(),
                )
                .await;
                *waited += queued.elapsed();
                match permit {
                    Ok(Ok(permit)) => Ok(permit),
                    _ => Err(()),
                }
            }
        };
        let Ok(permit) = permit else {
            return Err((
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "backend_busy",
                    format!(
                        "backend `{}` stayed at its concurrency limit for {}; retry shortly",
                        backend.name,
                        humantime::format_duration(backend.queue_timeout)
                    ),
                ),
                "busy",
            ));
        };
        if !target.breaker.allow() {
            return Err((
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "api_error",
                    "circuit_open",
                    format!(
                        "target `{}` is failing and is skipped for a cooldown",
                        target.id
                    ),
                ),
                "circuit_open",
            ));
        }
        Ok(permit)
    }

    /// The debug log of an upstream request: where it went, which headers
    /// (credentials redacted), and the body with every secret redacted.
    fn debug_request(&self, id: &str, url: &str, payload: &[u8]) {
        let backend = &self.table.backends[self.target.backend];
        let auth = backend::auth_shown(backend);
        let shown = crate::redact::body(payload, &self.table.secrets());
        tracing::info!(id, target = %self.target.id, url, auth,
            body = %String::from_utf8_lossy(&shown), "debug: upstream request");
    }

    fn fail(&self, error: ApiError, reason: &'static str) -> Failure {
        self.target.breaker.failure();
        if let Some(d) = &self.table.backends[self.target.backend].discovery {
            d.stale();
        }
        (error, reason)
    }

    fn labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("route", self.route.model.clone()),
            ("target", self.target.id.clone()),
        ]
    }
}

/// A place in a backend's queue, left when dropped.
struct Queued<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Queued<'a> {
    /// A place, unless the queue is at its `maxQueue`.
    fn join(backend: &'a crate::table::Backend) -> Option<Self> {
        use std::sync::atomic::Ordering;
        let max = backend.max_queue.unwrap_or(usize::MAX);
        backend
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(&backend.queued))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A rough prompt size for routing by size: the characters of every
/// string in `messages`, `input` and `prompt`, four to a token (the usual
/// rule of thumb for English with BPE tokenizers). Cheap, no tokenizer, and
/// only used to pick a target with enough context.
pub fn estimate_prompt_tokens(body: &Value) -> u64 {
    fn chars(value: &Value) -> u64 {
        match value {
            Value::String(s) => s.chars().count() as u64,
            Value::Array(items) => items.iter().map(chars).sum(),
            Value::Object(fields) => fields.values().map(chars).sum(),
            _ => 0,
        }
    }
    let total: u64 = ["messages", "input", "prompt"]
        .iter()
        .filter_map(|field| body.get(field))
        .map(chars)
        .sum();
    total.div_ceil(4)
}

/// The request's whole budget ran out (across its attempts).
pub(crate) fn budget_spent(route: &Route) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "api_error",
        "upstream_timeout",
        format!(
            "the request's budget of {} for `{}` ran out",
            humantime::format_duration(route.budget),
            route.model
        ),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_estimate_counts_message_text() {
        let body = serde_json::json!({"model": "m", "messages": [
            {"role": "system", "content": "abcd"},
            {"role": "user", "content": [{"type": "text", "text": "abcdefgh"}]}
        ]});
        // "system" + "abcd" + "user" + "text" + "abcdefgh" = 26 chars.
        assert_eq!(estimate_prompt_tokens(&body), 7);
        assert_eq!(
            estimate_prompt_tokens(&serde_json::json!({"input": "ab"})),
            1
        );
    }
}
