//! One question from a chat bot, answered the same way over HTTP
//! (`POST /v1/query`) and gRPC (`ai.v1.AIService/Query`), with one log
//! line per query. Each query runs in a `query` span that carries its
//! request id (the caller's `x-request-id`, or one made here), so every
//! line logged on its way (the intent, each model call, each tool and
//! Home Assistant call) names it; `log.level: debug` shows that path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::Instrument;

use crate::api::Shared;
use crate::engine::{AskError, QueryAnswer};

/// How a query was asked: its status codes differ, nothing else does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Grpc,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("`text` is required")]
    EmptyText,
    #[error(transparent)]
    Ask(#[from] AskError),
}

impl QueryError {
    /// The HTTP status, the error `type` of the body.
    pub fn http(&self) -> (u16, &'static str) {
        match self {
            QueryError::EmptyText => (400, "invalid_request"),
            QueryError::Ask(AskError::ModelUnavailable(_)) => (503, "model_unavailable"),
            QueryError::Ask(AskError::Audit(_)) => (500, "audit_unavailable"),
        }
    }

    /// The gRPC status. An audit log that cannot be written is
    /// UNAVAILABLE too: nothing is answered unaudited, and the caller can
    /// only retry later.
    pub fn grpc(&self) -> tonic::Code {
        match self {
            QueryError::EmptyText => tonic::Code::InvalidArgument,
            QueryError::Ask(_) => tonic::Code::Unavailable,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            QueryError::EmptyText => "invalid_request",
            QueryError::Ask(AskError::ModelUnavailable(_)) => "model_unavailable",
            QueryError::Ask(AskError::Audit(_)) => "audit_unavailable",
        }
    }
}

/// The header (HTTP) and metadata key (gRPC) of a query's request id.
pub const REQUEST_ID: &str = "x-request-id";

/// The caller's request id when it is a sensible one (1 to 64 letters,
/// digits and `.-_:`), else a new one: `q-<start, hex>-<n>`, unique for
/// this process's life.
pub fn request_id(given: Option<&[u8]>) -> String {
    if let Some(given) = given.and_then(|g| std::str::from_utf8(g).ok()) {
        let ok = (1..=64).contains(&given.len())
            && given
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if ok {
            return given.to_owned();
        }
    }
    static NEXT: AtomicU64 = AtomicU64::new(1);
    static STARTED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let started = STARTED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    format!("q-{started:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Answers `text` for `client` (`source`: where the bot got it, if it
/// said), and logs the query: who, from where, taken as what, with what
/// outcome and status, how long it took. The text itself is not logged
/// (it is in the audit log).
/// `traceparent` is the caller's W3C trace context, if it sent one: with
/// traces on, the query's spans join the caller's trace.
pub async fn answer(
    shared: &Shared,
    transport: Transport,
    request_id: &str,
    traceparent: Option<&str>,
    client: &str,
    source: Option<&str>,
    text: &str,
) -> Result<QueryAnswer, QueryError> {
    let span = tracing::info_span!("query", request_id, transport = transport.as_str());
    if let Some(traceparent) = traceparent {
        crate::otel::set_parent(&span, traceparent);
    }
    let answering = answer_in_span(shared, transport, request_id, client, source, text);
    QUERY_ID
        .scope(request_id.to_owned(), answering.instrument(span))
        .await
}

tokio::task_local! {
    /// The request id of the query this task answers.
    static QUERY_ID: String;
}

/// The request id of the query being answered, sent on to the router as
/// its `x-request-id`, so that one id finds the query in both journals;
/// `None` outside a query (a workflow's run).
pub fn current_request_id() -> Option<String> {
    QUERY_ID.try_with(Clone::clone).ok()
}

async fn answer_in_span(
    shared: &Shared,
    transport: Transport,
    request_id: &str,
    client: &str,
    source: Option<&str>,
    text: &str,
) -> Result<QueryAnswer, QueryError> {
    let started = Instant::now();
    let source = source.filter(|s| !s.trim().is_empty());
    // A caller that goes away (its deadline passed, it hung up) drops this
    // future: the guard still logs the query.
    let mut pending = Pending {
        transport,
        request_id,
        client,
        source,
        started,
        done: false,
    };
    let result = if text.trim().is_empty() {
        Err(QueryError::EmptyText)
    } else {
        let who = match source {
            Some(source) => format!("{client} via {source}"),
            None => client.to_owned(),
        };
        shared
            .engine
            .query(&who, text)
            .await
            .map_err(QueryError::from)
    };
    pending.done = true;
    let duration_ms = started.elapsed().as_millis() as u64;
    let source = source.unwrap_or("-");
    let transport_name = transport.as_str();
    match &result {
        Ok(answer) => {
            let outcome = if answer.action_taken {
                "action_taken"
            } else {
                "answered"
            };
            let status = match transport {
                Transport::Http => "200",
                Transport::Grpc => "OK",
            };
            tracing::info!(transport = transport_name, request_id, client, source,
                intent = %answer.intent, outcome, status, duration_ms, "query");
        }
        Err(err) => {
            let status = match transport {
                Transport::Http => err.http().0.to_string(),
                Transport::Grpc => grpc_name(err.grpc()).to_owned(),
            };
            tracing::warn!(transport = transport_name, request_id, client, source, intent = "-",
                outcome = err.outcome(), status, duration_ms, error = %err, "query");
        }
    }
    result
}

/// The code as gRPC documents and other implementations log it.
fn grpc_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::Unavailable => "UNAVAILABLE",
        _ => "UNKNOWN",
    }
}

struct Pending<'a> {
    transport: Transport,
    request_id: &'a str,
    client: &'a str,
    source: Option<&'a str>,
    started: Instant,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // What the caller saw: its own deadline (or nothing, gone); 499 is
        // the usual "client closed the request" in HTTP logs.
        let status = match self.transport {
            Transport::Http => "499",
            Transport::Grpc => "CANCELLED",
        };
        tracing::warn!(
            transport = self.transport.as_str(),
            request_id = self.request_id,
            client = self.client,
            source = self.source.unwrap_or("-"),
            intent = "-",
            outcome = "abandoned",
            status,
            duration_ms = self.started.elapsed().as_millis() as u64,
            "query"
        );
    }
}
