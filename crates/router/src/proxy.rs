//! Forwarding one request: pick the route, try its targets in order, and
//! pass the first good answer through.
//!
//! Answers are forwarded as the upstream's bytes, never re-serialised, so
//! every field survives (tool-call `index`, `system_fingerprint`, fields
//! this router has never heard of). A target may be passed over only before
//! anything has been sent to the client: once the first byte of a stream
//! is out, a failure ends the stream with an error event.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::timeout_at;

use crate::config::BackendKind;
use crate::error::ApiError;
use crate::table::{Route, Table, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat/completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// Handles one request to an OpenAI-compatible endpoint.
pub async fn handle(
    table: Arc<Table>,
    peer: SocketAddr,
    request: Request,
    endpoint: Endpoint,
) -> Response {
    let mut record = Record::start(table.clone());
    let (headers, bytes) = match admit(&table, peer, request, &mut record).await {
        Ok(admitted) => admitted,
        Err(error) => return record.refuse(error),
    };
    // The router's own time starts once the body is in: reading it is the
    // client's upload, not the router's work.
    let begun = Instant::now();
    let mut body: Value = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(err) => {
            return record.refuse(ApiError::bad_request(format!(
                "request body is not valid JSON: {err}"
            )))
        }
    };
    let Some(fields) = body.as_object() else {
        return record.refuse(ApiError::bad_request("request body must be a JSON object"));
    };
    let Some(model) = fields.get("model").and_then(Value::as_str) else {
        return record.refuse(ApiError::bad_request(
            "`model` is required and must be a string",
        ));
    };
    let model = model.to_owned();
    let stream = endpoint == Endpoint::ChatCompletions
        && fields.get("stream").and_then(Value::as_bool) == Some(true);
    record.model = printable(&model);
    let Some(route) = table.resolve(&model) else {
        return record.refuse(ApiError::unknown_model(&model));
    };
    record.route.clone_from(&route.model);
    if let (Some(profile), Some(fields)) = (&route.profile, body.as_object_mut()) {
        if endpoint == Endpoint::ChatCompletions {
            crate::profile::apply(profile, fields);
        }
    }
    let deadline = tokio::time::Instant::from_std(begun) + route.budget;
    let debug = debug_on(&table, &headers);
    if endpoint == Endpoint::ChatCompletions && crate::execute::wants_strict(route, &headers, &body)
    {
        if stream {
            return record.refuse(ApiError::bad_request(
                "checking the answer against its schema needs the whole answer: \
                 send `stream: false`, or leave out x-hwc-ai-strict-schema",
            ));
        }
        return crate::execute::chat_strict(&table, route, body, record, begun, deadline, debug)
            .await;
    }

    let prompt_tokens = estimate_prompt_tokens(&body);
    let mut waited = Duration::ZERO;
    let mut last: Option<ApiError> = None;
    for (i, target) in route.targets.iter().enumerate() {
        let attempt = Attempt {
            table: &table,
            route,
            target,
            endpoint,
            stream,
            requested: &model,
            prompt_tokens,
            deadline,
            debug: debug.then_some(record.id.as_str()),
        };
        match attempt.run(&mut body, &mut waited).await {
            Ok(answer) => {
                record.target.clone_from(&target.id);
                if i > 0 {
                    tracing::debug!(id = %record.id, "answered by fallback target {}", target.id);
                }
                return answer.respond(record, begun, waited);
            }
            Err((error, reason)) => {
                tracing::debug!(id = %record.id, target = %target.id, reason, "{}", error.message);
                if i + 1 < route.targets.len() {
                    table
                        .metrics
                        .fallbacks
                        .get_or_create(&vec![
                            ("route", route.model.clone()),
                            ("target", target.id.clone()),
                            ("reason", reason.to_owned()),
                        ])
                        .inc();
                }
                record.target.clone_from(&target.id);
                last = Some(error);
            }
        }
    }
    let error = last.unwrap_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "no_target",
            "no target is available",
        )
    });
    // One target: its own error. Several: say they were all tried.
    let error = if route.targets.len() > 1 {
        ApiError {
            message: format!(
                "all {} targets of route `{}` failed; the last: {}",
                route.targets.len(),
                route.model,
                error.message
            ),
            ..error
        }
    } else {
        error
    };
    let id = record.id.clone();
    let response = record.refuse(error);
    finish(response, &table, begun, waited, &id)
}

/// Admits a request: a client key that matches (or loopback, when
/// allowed), then its body within `maxBodyBytes` (by `Content-Length`
/// before reading, or while reading a chunked body). Names the client in
/// `record`.
pub(crate) async fn admit(
    table: &Table,
    peer: SocketAddr,
    request: Request,
    record: &mut Record,
) -> Result<(axum::http::HeaderMap, Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match table.clients.admit(authorization, peer.ip()) {
        Some(name) => record.client = name.to_owned(),
        None => return Err(ApiError::unauthorized()),
    }
    let limit = table.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok((parts.headers, bytes)),
        Err(err) => {
            let over = std::error::Error::source(&err)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if over {
                ApiError::too_large(limit)
            } else {
                ApiError::bad_request("could not read the request body")
            })
        }
    }
}

/// Whether a request header is set to `1` or `true`.
pub(crate) fn flag(headers: &axum::http::HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes() == b"1" || v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// Whether this request's upstream traffic is logged: the operator
/// allowed it (`debugRequests`) and the client asked (`x-hwc-ai-debug: 1`).
pub(crate) fn debug_on(table: &Table, headers: &axum::http::HeaderMap) -> bool {
    table.debug_requests && flag(headers, "x-hwc-ai-debug")
}

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

/// Why a target was passed over, as the `reason` label of `fallbacks`.
pub(crate) type Failure = (ApiError, &'static str);

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
        // The slot first: a half-open trial must not be spent on a request
        // that then never reaches the target.
        let permit = match backend.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            // Queueing is waiting on the backend, not the router's work.
            Err(_) => {
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
        let upstream_model = target.upstream_model(self.requested);
        let anthropic = backend.kind == BackendKind::Anthropic;
        let (url, payload) = if anthropic {
            if self.endpoint != Endpoint::ChatCompletions {
                return Err((
                    ApiError::bad_request(format!(
                        "backend `{}` (anthropic) has no {} endpoint",
                        backend.name,
                        self.endpoint.path()
                    )),
                    "unsupported",
                ));
            }
            let translated = crate::anthropic::request(body, upstream_model, self.stream)
                .map_err(|message| (ApiError::bad_request(message), "invalid_request"))?;
            (
                format!("{}/messages", backend.base),
                serde_json::to_vec(&translated).expect("a JSON value serialises"),
            )
        } else {
            if let Some(fields) = body.as_object_mut() {
                fields.insert("model".to_owned(), Value::String(upstream_model.to_owned()));
            }
            (
                format!("{}/{}", backend.base, self.endpoint.path()),
                serde_json::to_vec(body).expect("a JSON value serialises"),
            )
        };
        if let Some(id) = self.debug {
            self.debug_request(id, &url, &payload);
        }
        let mut request = self
            .table
            .client
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(payload);
        match (&backend.key, anthropic) {
            (Some(key), true) => request = request.header("x-api-key", key.expose()),
            (Some(key), false) => request = request.bearer_auth(key.expose()),
            (None, _) => {}
        }
        if anthropic {
            request = request.header("anthropic-version", crate::anthropic::VERSION);
        }
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
                    upstream_error(format!("{what} backend `{}`", backend.name)),
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
        if status.is_server_error() {
            return Err(self.fail(
                upstream_error(format!("target `{}` answered {status}", target.id)),
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
                upstream_error(format!(
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
                        upstream_error(format!(
                            "target `{}` ended its stream before sending anything",
                            target.id
                        )),
                        "empty",
                    ))
                }
                Ok(Some(Err(_))) => {
                    return Err(self.fail(
                        upstream_error(format!(
                            "target `{}` broke off before its first chunk",
                            target.id
                        )),
                        "broken",
                    ))
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            target.breaker.success();
            self.table
                .metrics
                .first_chunk
                .get_or_create(&self.labels())
                .observe(first_at.as_secs_f64());
            let translator = anthropic.then(|| {
                let include_usage = body
                    .pointer("/stream_options/include_usage")
                    .and_then(Value::as_bool)
                    == Some(true);
                crate::anthropic::StreamTranslator::new(unix_now(), include_usage)
            });
            return Ok(Answer::Stream {
                content_type,
                translator,
                first: chunk,
                rest: Box::pin(upstream),
                idle: target.idle_timeout,
                permit,
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
                    upstream_error(format!(
                        "target `{}` answered with more than {} bytes",
                        target.id, self.table.max_response_bytes
                    )),
                    "too_large",
                ))
            }
            Ok(Err(Broken)) => {
                return Err(self.fail(
                    upstream_error(format!("target `{}` broke off its answer", target.id)),
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
            let body = if anthropic {
                match crate::anthropic::response(&body, unix_now()) {
                    Ok(translated) => Bytes::from(translated),
                    Err(_) => Bytes::new(),
                }
            } else {
                body
            };
            match serde_json::from_slice::<UsageOnly>(&body) {
                Ok(parsed) => usage = parsed.usage,
                Err(_) => {
                    return Err(self.fail(
                        upstream_error(format!(
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
            let body = if anthropic {
                Bytes::from(crate::anthropic::error(&body))
            } else {
                body
            };
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

    /// The debug log of an upstream request: where it went, which headers
    /// (credentials redacted), and the body with every secret redacted.
    fn debug_request(&self, id: &str, url: &str, payload: &[u8]) {
        let backend = &self.table.backends[self.target.backend];
        let auth = match (&backend.key, backend.kind) {
            (None, _) => "none",
            (Some(_), BackendKind::Anthropic) => "x-api-key: <redacted>",
            (Some(_), BackendKind::OpenaiCompatible) => "authorization: Bearer <redacted>",
        };
        let shown = crate::redact::body(payload, &self.table.secrets());
        tracing::info!(id, target = %self.target.id, url, auth,
            body = %String::from_utf8_lossy(&shown), "debug: upstream request");
    }

    fn fail(&self, error: ApiError, reason: &'static str) -> Failure {
        self.target.breaker.failure();
        (error, reason)
    }

    fn labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("route", self.route.model.clone()),
            ("target", self.target.id.clone()),
        ]
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

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

fn upstream_error(message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "api_error",
        "upstream_error",
        message,
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
        translator: Option<crate::anthropic::StreamTranslator>,
        first: Bytes,
        rest: Upstream,
        idle: Duration,
        permit: OwnedSemaphorePermit,
    },
}

impl Answer {
    fn respond(self, mut record: Record, begun: Instant, waited: Duration) -> Response {
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
            } => {
                record.status = "200".to_owned();
                let relay = Relay {
                    translator,
                    first: Some(first),
                    rest,
                    idle,
                    record,
                    _permit: permit,
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
    translator: Option<crate::anthropic::StreamTranslator>,
    first: Option<Bytes>,
    rest: Upstream,
    idle: Duration,
    record: Record,
    _permit: OwnedSemaphorePermit,
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
                let error = upstream_error(format!(
                    "target `{}` broke off the stream",
                    self.record.target
                ));
                Some(Err(self.end_with(error)))
            }
            None if self.saw_done || self.saw_error => {
                self.finished = true;
                self.record.stream_ended(self.saw_done);
                None
            }
            None => {
                let error = upstream_error(format!(
                    "target `{}` ended the stream without finishing it",
                    self.record.target
                ));
                Some(Err(self.end_with(error)))
            }
        }
    }

    fn end_with(&mut self, error: ApiError) -> Bytes {
        self.finished = true;
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
        if contains(chunk, b"\"usage\"") {
            for line in chunk.split(|&b| b == b'\n') {
                if let Some(data) = line.strip_prefix(b"data: ") {
                    if contains(data, b"\"usage\"") {
                        self.record.usage(data);
                    }
                }
            }
        }
    }
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

    #[test]
    fn client_strings_cannot_forge_log_lines() {
        assert_eq!(printable("m\nINFO request id=x"), "m?INFO request id=x");
        assert_eq!(printable(&"x".repeat(500)).len(), 128);
    }
}

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
    table: Arc<Table>,
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
}

impl Record {
    pub(crate) fn start(table: Arc<Table>) -> Self {
        table.metrics.in_flight.inc();
        Self {
            id: table.next_request_id(),
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

    fn usage(&mut self, json: &[u8]) {
        if let Ok(UsageOnly { usage: Some(usage) }) = serde_json::from_slice(json) {
            self.add_usage(usage);
        }
    }

    pub(crate) fn add_usage(&mut self, usage: Usage) {
        self.prompt_tokens = usage.prompt_tokens.or(self.prompt_tokens);
        self.completion_tokens = usage.completion_tokens.or(self.completion_tokens);
    }

    fn stream_ended(&mut self, complete: bool) {
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
