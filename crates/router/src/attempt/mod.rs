//! One try of one target, in the order it happens: admission to the
//! backend (`admit.rs`: the request's budget and size, its concurrency
//! slot, its circuit), the request in the backend kind's shape sent within
//! the bounds (`send.rs`), and the answer classified as good or as a reason
//! to pass the target over (`answer.rs`: its status, a stream's first
//! chunk, a whole body).

mod admit;
mod answer;
mod send;

use std::time::Duration;

use axum::http::{header, StatusCode};
use serde_json::Value;

use crate::backend::{self, Endpoint};
use crate::error::{ApiError, Failure};
use crate::relay::Answer;
use crate::table::{Backend, Route, Table, Target};

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
    /// The caller's W3C `traceparent`, passed on as it came when this
    /// process exports no traces.
    pub traceparent: Option<&'a axum::http::HeaderValue>,
}

impl Attempt<'_> {
    pub async fn run(&self, body: &mut Value, waited: &mut Duration) -> Result<Answer, Failure> {
        self.admit(body)?;
        let permit = self.slot(waited).await?;
        let upstream_model = self.target.upstream_model(self.requested);
        let (response, clock) = self.send(body, upstream_model, waited).await?;
        let status = self.status(response.status(), upstream_model)?;
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        if self.stream && status.is_success() {
            let (first, rest) = self.first_chunk(response, &clock, waited).await?;
            // The circuit hears of a stream when it ends (see relay.rs):
            // one that breaks off after this chunk is a failure too.
            return Ok(Answer::Stream {
                content_type,
                translator: backend::stream_translator(self.backend(), body),
                first,
                rest: Box::pin(rest),
                idle: self.target.idle_timeout,
                permit,
                breaker: self.target.breaker.clone(),
            });
        }
        // A whole body: a non-streaming answer, or an upstream 4xx, which is
        // the client's problem and passed on as it came.
        let (body, usage) = self.whole(response, status, &clock, waited).await?;
        self.target.breaker.success();
        drop(permit);
        Ok(Answer::Whole {
            status,
            content_type,
            body,
            usage,
        })
    }

    fn backend(&self) -> &Backend {
        &self.table.backends[self.target.backend]
    }

    /// The target is passed over for a reason of its own: its circuit hears
    /// of it, and its backend's model list is looked at again.
    fn fail(&self, error: ApiError, reason: &'static str) -> Failure {
        self.target.breaker.failure();
        if let Some(d) = &self.backend().discovery {
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
