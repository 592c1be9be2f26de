//! The answer on its way to the client: a whole body, or a stream relayed
//! chunk by chunk as it arrives (translated for an Anthropic backend), with
//! the router's overhead measured and its headers set.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use tokio::sync::OwnedSemaphorePermit;

use crate::breaker::Breaker;
use crate::error::ApiError;
use crate::record::{Record, Usage, UsageOnly};
use crate::table::Table;

type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

// One per request, moved once: boxing the larger variant would only add
// an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Answer {
    Whole {
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
        usage: Option<Usage>,
    },
    Stream {
        content_type: Option<HeaderValue>,
        translator: Option<crate::backend::anthropic::StreamTranslator>,
        first: Bytes,
        rest: Upstream,
        idle: Duration,
        permit: OwnedSemaphorePermit,
        /// The target's circuit: a stream that breaks off counts against it.
        breaker: Arc<Breaker>,
    },
}

impl Answer {
    pub(crate) fn respond(self, mut record: Record, begun: Instant, waited: Duration) -> Response {
        let table = record.table.clone();
        let id = record.id.clone();
        let mut response = match self {
            Answer::Whole {
                status,
                content_type,
                body,
                usage,
            } => {
                record.status = status.as_u16().to_string();
                if let Some(usage) = usage {
                    record.add_usage(usage);
                }
                let mut response = Response::new(Body::from(body));
                *response.status_mut() = status;
                let content_type =
                    content_type.unwrap_or(HeaderValue::from_static("application/json"));
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
                response
            }
            Answer::Stream {
                content_type,
                translator,
                first,
                rest,
                idle,
                permit,
                breaker,
            } => {
                record.status = "200".to_owned();
                let relay = Relay {
                    translator,
                    first: Some(first),
                    rest,
                    idle,
                    record,
                    _permit: permit,
                    breaker,
                    finished: false,
                    saw_done: false,
                    saw_error: false,
                    ends_clean: true,
                };
                let body = Body::from_stream(futures_util::stream::unfold(relay, Relay::next));
                let mut response = Response::new(body);
                let content_type =
                    content_type.unwrap_or(HeaderValue::from_static("text/event-stream"));
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, content_type);
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                return finish(response, &table, begun, waited, &id);
            }
        };
        response = finish(response, &table, begun, waited, &id);
        drop(record);
        response
    }
}

/// The router's headers and its overhead, measured now: everything since
/// the body was read except the time spent waiting on upstreams.
pub(crate) fn finish(
    mut response: Response,
    table: &Table,
    begun: Instant,
    waited: Duration,
    id: &str,
) -> Response {
    let overhead = begun.elapsed().saturating_sub(waited);
    table.metrics.overhead.observe(overhead.as_secs_f64());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("{:.3}", overhead.as_secs_f64() * 1e3)) {
        headers.insert("x-hwc-ai-overhead-ms", value);
    }
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert("x-request-id", value);
    }
    response
}

/// A stream being relayed to the client, chunk by chunk as it arrives.
struct Relay {
    /// For an Anthropic backend: its events in, OpenAI chunks out.
    translator: Option<crate::backend::anthropic::StreamTranslator>,
    first: Option<Bytes>,
    rest: Upstream,
    idle: Duration,
    record: Record,
    _permit: OwnedSemaphorePermit,
    breaker: Arc<Breaker>,
    finished: bool,
    saw_done: bool,
    saw_error: bool,
    /// Whether the last chunk ended an SSE event (a blank line), so an
    /// error event of ours starts on a fresh line.
    ends_clean: bool,
}

impl Relay {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if self.finished {
            return None;
        }
        if let Some(first) = self.first.take() {
            if let Some(out) = self.translate(first) {
                self.observe(&out);
                return Some((Ok(out), self));
            }
        }
        loop {
            match self.step().await? {
                Ok(chunk) => {
                    if let Some(out) = self.translate(chunk) {
                        self.observe(&out);
                        return Some((Ok(out), self));
                    }
                }
                Err(end) => return Some((Ok(end), self)),
            }
        }
    }

    /// An upstream chunk as the client gets it; `None` when it completes
    /// no event yet (a translated stream only).
    fn translate(&mut self, chunk: Bytes) -> Option<Bytes> {
        match &mut self.translator {
            None => Some(chunk),
            Some(translator) => {
                let out = translator.push(&chunk);
                if let Some((prompt, completion)) = translator.usage() {
                    self.record.prompt_tokens = Some(prompt);
                    self.record.completion_tokens = Some(completion);
                }
                (!out.is_empty()).then(|| Bytes::from(out))
            }
        }
    }

    /// The next upstream chunk (`Ok`), the router's final error event
    /// (`Err`), or the end.
    async fn step(&mut self) -> Option<Result<Bytes, Bytes>> {
        let Ok(next) = tokio::time::timeout(self.idle, self.rest.next()).await else {
            let error = ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "api_error",
                "upstream_timeout",
                format!(
                    "target `{}` sent nothing for {}",
                    self.record.target,
                    humantime::format_duration(self.idle)
                ),
            );
            return Some(Err(self.end_with(error)));
        };
        match next {
            Some(Ok(chunk)) => Some(Ok(chunk)),
            Some(Err(_)) => {
                let error = ApiError::upstream(format!(
                    "target `{}` broke off the stream",
                    self.record.target
                ));
                Some(Err(self.end_with(error)))
            }
            None if self.saw_done || self.saw_error => {
                self.finished = true;
                self.record.stream_ended(self.saw_done);
                if self.saw_done {
                    self.breaker.success();
                } else {
                    // The upstream's own error event: it failed mid-answer.
                    self.breaker.failure();
                }
                None
            }
            None => {
                let error = ApiError::upstream(format!(
                    "target `{}` ended the stream without finishing it",
                    self.record.target
                ));
                Some(Err(self.end_with(error)))
            }
        }
    }

    /// Ends a stream the target broke off (cut, stalled, or ended without
    /// finishing): the client gets an error event, and the target's circuit
    /// counts a failure, as it would for an answer that never started.
    fn end_with(&mut self, error: ApiError) -> Bytes {
        self.finished = true;
        self.breaker.failure();
        self.record.stream_ended(false);
        self.record.error = Some(error.message.clone());
        let mut event = String::new();
        if !self.ends_clean {
            event.push_str("\n\n");
        }
        event.push_str(&error.sse_event());
        Bytes::from(event)
    }

    fn observe(&mut self, chunk: &Bytes) {
        self.ends_clean = chunk.ends_with(b"\n\n") || chunk.ends_with(b"\r\n\r\n");
        if contains(chunk, b"data: [DONE]") {
            self.saw_done = true;
        }
        if contains(chunk, b"data: {\"error\"") || contains(chunk, b"event: error") {
            self.saw_error = true;
        }
        for usage in usages(chunk) {
            self.record.add_usage(usage);
        }
    }
}

/// The usage every `data:` line of a relayed chunk reports (an upstream's
/// final chunk carries it); lines that are not JSON are skipped.
pub(crate) fn usages(chunk: &[u8]) -> impl Iterator<Item = Usage> + '_ {
    let any = contains(chunk, b"\"usage\"");
    chunk
        .split(|&b| b == b'\n')
        .filter(move |_| any)
        .filter_map(|line| line.strip_prefix(b"data: "))
        .filter(|data| contains(data, b"\"usage\""))
        .filter_map(|data| match serde_json::from_slice(data) {
            Ok(UsageOnly { usage }) => usage,
            Err(_) => None,
        })
}

impl Drop for Relay {
    /// Dropped before the end: the client went away, and with this relay
    /// goes the upstream connection, which cancels the upstream request.
    /// Not so once `[DONE]` went out: OpenAI's SDKs close the connection
    /// as soon as they read it, before the upstream's body has ended.
    fn drop(&mut self) {
        if !self.finished && !self.saw_done {
            self.record.status = "499".to_owned();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
