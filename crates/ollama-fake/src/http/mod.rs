//! The HTTP API: routes, the shared request plumbing, error shapes.

mod generate;
mod native;
mod openai;
mod pull;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::fake::FakeOllama;
use crate::state::{KeepAlive, RecordedRequest, DEFAULT_KEEP_ALIVE};

/// Larger bodies are refused; Ollama's requests are small.
const MAX_BODY: usize = 32 << 20;

pub(crate) fn router(fake: FakeOllama) -> Router {
    Router::new()
        .route("/", get(|| async { "Ollama is running" }))
        .route("/api/version", get(native::version))
        .route("/api/tags", get(native::tags))
        .route("/api/ps", get(native::ps))
        .route("/api/pull", post(pull::pull))
        .route("/api/show", post(native::show))
        .route("/api/delete", delete(native::delete))
        .route("/api/generate", post(generate::generate))
        .route("/api/chat", post(generate::chat))
        .route("/api/embed", post(native::embed))
        .route("/api/embeddings", post(native::embeddings))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*model}", get(openai::model))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(fake.clone(), observe))
        .with_state(fake)
}

/// Gin's answer to an unknown route or method.
async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found").into_response()
}

/// Counts and records every request, applies the global delay, logs.
async fn observe(State(fake): State<FakeOllama>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    let delay = {
        let mut st = fake.lock();
        st.count(&path);
        st.record(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            body: serde_json::from_slice(&bytes).ok(),
            traceparent: parts
                .headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        st.global_delay()
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// `{"error": message}` with `status`: Ollama's error shape.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
        .into_response()
}

/// An Ollama error, to return with `?`.
pub(crate) struct ApiError(pub StatusCode, pub String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(status, message.into())
    }

    pub fn from_code(status: u16, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError(status, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// Reads a JSON body the way Ollama's handlers do: an empty body is
/// `missing request body`, anything unparsable a 400 with the reason.
pub(crate) fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing request body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

/// A complete JSON response.
pub(crate) fn json(value: serde_json::Value) -> Response {
    axum::Json(value).into_response()
}

/// A streamed response of `content_type`.
pub(crate) fn streaming<S>(content_type: &'static str, stream: S) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream))
        .expect("static headers are valid")
}

/// A response whose connection is cut before the body: headers go out
/// (hyper cannot close without them), the body fails at once.
pub(crate) fn cut_connection() -> Response {
    streaming(
        "application/json",
        futures_util::stream::once(async { Err(dropped()) }),
    )
}

/// The error that makes hyper abort a connection mid-body.
pub(crate) fn dropped() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "fault: connection dropped",
    )
}

/// Gives hyper time to send what is buffered before a cut, so a client
/// receives the chunks that came before it (a real cut loses nothing that
/// was already on the wire).
pub(crate) async fn before_cut() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// One NDJSON line.
pub(crate) fn ndjson(value: &serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(value).expect("values serialize");
    line.push(b'\n');
    Bytes::from(line)
}

/// RFC 3339 with nanoseconds, UTC, as Go marshals `time.Time`.
pub(crate) fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

pub(crate) fn now() -> String {
    timestamp(SystemTime::now())
}

pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads `keep_alive`: seconds as a number, or a Go duration string;
/// negative means forever. Missing means Ollama's default of 5 minutes.
pub(crate) fn keep_alive(value: Option<&serde_json::Value>) -> Result<KeepAlive, ApiError> {
    let bad = || ApiError::new(StatusCode::BAD_REQUEST, "invalid keep_alive duration");
    let seconds = match value {
        None | Some(serde_json::Value::Null) => return Ok(KeepAlive::For(DEFAULT_KEEP_ALIVE)),
        Some(serde_json::Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(serde_json::Value::String(s)) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                n
            } else if let Some(rest) = s.strip_prefix('-') {
                humantime::parse_duration(rest).map_err(|_| bad())?;
                -1.0
            } else {
                humantime::parse_duration(s)
                    .map_err(|_| bad())?
                    .as_secs_f64()
            }
        }
        Some(_) => return Err(bad()),
    };
    if seconds < 0.0 {
        Ok(KeepAlive::Forever)
    } else {
        Ok(KeepAlive::For(Duration::from_secs_f64(seconds)))
    }
}

/// Sleeps for a model's configured delay, if any.
pub(crate) async fn model_delay(fake: &FakeOllama, key: &str) {
    let delay = fake.lock().delay(Some(key));
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keep_alive_forms() {
        let five = KeepAlive::For(DEFAULT_KEEP_ALIVE);
        assert_eq!(keep_alive(None).ok(), Some(five));
        assert_eq!(
            keep_alive(Some(&json!(0))).ok(),
            Some(KeepAlive::For(Duration::ZERO))
        );
        assert_eq!(
            keep_alive(Some(&json!("0"))).ok(),
            Some(KeepAlive::For(Duration::ZERO))
        );
        assert_eq!(
            keep_alive(Some(&json!("10m"))).ok(),
            Some(KeepAlive::For(Duration::from_secs(600)))
        );
        assert_eq!(
            keep_alive(Some(&json!("1h30m"))).ok(),
            Some(KeepAlive::For(Duration::from_secs(5400)))
        );
        assert_eq!(keep_alive(Some(&json!(-1))).ok(), Some(KeepAlive::Forever));
        assert_eq!(
            keep_alive(Some(&json!("-1m"))).ok(),
            Some(KeepAlive::Forever)
        );
        assert!(keep_alive(Some(&json!("soon"))).is_err());
    }
}
