//! Whether the request may go to this target at all: the request's budget
//! and size, then the backend's concurrency slot (or a place in its queue),
//! then the target's circuit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::{budget_spent, Attempt};
use crate::error::{ApiError, Failure};
use crate::table::Backend;

impl Attempt<'_> {
    /// The request's budget is not spent and its prompt fits the target;
    /// a reasoning control the backend does not take is dropped.
    pub(super) fn admit(&self, body: &mut Value) -> Result<(), Failure> {
        let target = self.target;
        if tokio::time::Instant::now() >= self.deadline {
            return Err((budget_spent(self.route), "timeout"));
        }
        if !self.backend().reasoning {
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
        Ok(())
    }

    /// The backend's concurrency slot, then the target's circuit. The slot
    /// first: a half-open trial must not be spent on a request that then
    /// never reaches the target.
    pub(super) async fn slot(
        &self,
        waited: &mut Duration,
    ) -> Result<OwnedSemaphorePermit, Failure> {
        let permit = self.permit(waited).await?;
        if !self.target.breaker.allow() {
            return Err((
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "api_error",
                    "circuit_open",
                    format!(
                        "target `{}` is failing and is skipped for a cooldown",
                        self.target.id
                    ),
                ),
                "circuit_open",
            ));
        }
        Ok(permit)
    }

    /// A free slot now, or one within the backend's `queueTimeout` after a
    /// place in its queue.
    async fn permit(&self, waited: &mut Duration) -> Result<OwnedSemaphorePermit, Failure> {
        let backend = self.backend();
        if let Ok(permit) = backend.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        // Queueing is waiting on the backend, not the router's work.
        let Some(_queued) = Queued::join(backend) else {
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
        };
        let queued = Instant::now();
        let permit = tokio::time::timeout(
            backend.queue_timeout,
            backend.permits.clone().acquire_owned(),
        )
        .await;
        *waited += queued.elapsed();
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err((
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
            )),
        }
    }
}

/// A place in a backend's queue, left when dropped.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    /// A place, unless the queue is at its `maxQueue`.
    fn join(backend: &'a Backend) -> Option<Self> {
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
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
