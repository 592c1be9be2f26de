//! The daemon's HTTP side: the listener (inherited from systemd or bound),
//! the shared routes, and a server that drains gracefully.

use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;

use crate::shutdown::Shutdown;

/// How long in-flight requests may take to finish after SIGTERM, unless a
/// daemon asks for another bound. Well inside systemd's default 90 s stop
/// timeout, long enough for a probe or a short completion.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

/// Takes the first socket systemd passed (`LISTEN_FDS`), if any. Call once,
/// early: it consumes the inherited descriptor.
pub fn activated_listener() -> std::io::Result<Option<std::net::TcpListener>> {
    let mut fds = sd_notify::listen_fds()?;
    let Some(fd) = fds.next() else {
        return Ok(None);
    };
    // SAFETY: systemd hands this descriptor to us (LISTEN_PID is ours) and
    // nothing else in the process owns it; we take ownership exactly once.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// Uses the inherited listener when given, otherwise binds `listen`.
pub async fn listener(
    inherited: Option<std::net::TcpListener>,
    listen: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    match inherited {
        Some(listener) => Ok(tokio::net::TcpListener::from_std(listener)?),
        None => tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|err| anyhow::anyhow!("cannot listen on {listen}: {err}")),
    }
}

/// `GET /metrics` over the daemon's registry: OpenMetrics when the scraper
/// asks for it, the classic text format otherwise.
pub fn metrics_routes(registry: Arc<Registry>) -> Router {
    Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| {
            let registry = registry.clone();
            async move {
                let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
                let (content_type, body) = crate::metrics::negotiate(&registry, accept);
                ([(header::CONTENT_TYPE, content_type)], body).into_response()
            }
        }),
    )
}

/// How long a client may take to send a request's headers. A client that
/// sends them a byte at a time (slowloris) would otherwise hold its
/// connection, and a task, for as long as it likes; 10 s is ages for a
/// request line and a few headers on any network.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` until shutdown, then lets in-flight requests finish for at
/// most `drain`. HTTP/1.1 only (as the daemons' clients speak it), with a
/// bound on the time to send headers ([`HEADER_READ_TIMEOUT`]); hyper's own
/// bounds answer headers over 400 KiB or 100 fields with 431.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Shutdown,
    drain: Duration,
) -> anyhow::Result<()> {
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors (LimitNOFILE) or a connection reset
                    // before accept: wait a little rather than spin.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.wait() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still running after {drain:?}; closing them");
    }
    Ok(())
}

/// An API's error as it answers it: a status and a JSON body in the API's
/// own documented shape (OpenAI's `{"error": {"message", "type", ...}}`
/// for the router and the assistant, `{"error": {"kind", "message"}}` for
/// the MCP gateway). The layers here ([`crate::auth::protect`],
/// [`crate::cors::guard`]) and each API's handlers answer through it, so
/// one API never answers in another's shape.
pub trait ApiErrorBody {
    fn status(&self) -> axum::http::StatusCode;
    fn body(&self) -> serde_json::Value;

    /// The response: the status and the body as `application/json`.
    fn response(&self) -> axum::response::Response {
        (self.status(), axum::Json(self.body())).into_response()
    }
}

/// A JSON request body, read the way scripts send it: `application/json`,
/// but also no `Content-Type` at all, or curl's `-d` default
/// (`application/x-www-form-urlencoded`) and `text/plain`, as long as the
/// body parses as JSON. A chat bot written as a shell one-liner works
/// without knowing about the header; a body that is not JSON gets a 400
/// that says what to send, and a body of another declared kind (a
/// multipart form, ...) a 415 naming the header.
pub struct JsonBody<T>(pub T);

/// Why a body was not taken: the status and a message for the client, in
/// the OpenAI error shape every hwc-ai API answers with.
#[derive(Debug)]
pub struct JsonBodyRejection {
    pub status: axum::http::StatusCode,
    pub message: String,
}

impl ApiErrorBody for JsonBodyRejection {
    fn status(&self) -> axum::http::StatusCode {
        self.status
    }

    fn body(&self) -> serde_json::Value {
        let kind = if self.status == axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else {
            "invalid_request"
        };
        serde_json::json!({"error": {"type": kind, "message": self.message}})
    }
}

impl IntoResponse for JsonBodyRejection {
    fn into_response(self) -> axum::response::Response {
        self.response()
    }
}

/// Content types whose body is taken as JSON when it parses as JSON.
fn lenient_content_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.is_empty()
        || essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
        || essence == "application/x-www-form-urlencoded"
        || essence == "text/plain"
}

/// Parses a request body as JSON under [`JsonBody`]'s rules.
pub fn parse_json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, JsonBodyRejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    if !lenient_content_type(content_type) {
        return Err(JsonBodyRejection {
            status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!(
                "the body is {}; send JSON with Content-Type: application/json",
                content_type.unwrap_or_default()
            ),
        });
    }
    serde_json::from_slice(body).map_err(|err| {
        let hint = match content_type {
            None => " (no Content-Type was sent)".to_owned(),
            Some(t) if t.starts_with("application/json") => String::new(),
            Some(t) => format!(" (Content-Type: {t})"),
        };
        let what = if body.iter().all(u8::is_ascii_whitespace) {
            "the body is empty".to_owned()
        } else {
            format!("the body is not JSON: {err}")
        };
        JsonBodyRejection {
            status: axum::http::StatusCode::BAD_REQUEST,
            message: format!(
                "{what}{hint}; send a JSON object with Content-Type: application/json"
            ),
        }
    })
}

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = JsonBodyRejection;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let request = axum::extract::Request::from_parts(parts.clone(), body);
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|err| JsonBodyRejection {
                status: err.status(),
                message: err.body_text(),
            })?;
        parse_json_body(&parts.headers, &bytes).map(JsonBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(t) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(t).unwrap());
        }
        h
    }

    #[test]
    fn json_is_taken_as_scripts_send_it() {
        for t in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
        ] {
            let v: serde_json::Value = parse_json_body(&headers(t), br#"{"text": "hi"}"#)
                .unwrap_or_else(|e| panic!("{t:?}: {}", e.message));
            assert_eq!(v["text"], "hi");
        }
    }

    #[test]
    fn what_is_not_json_is_named() {
        let err = parse_json_body::<serde_json::Value>(
            &headers(Some("application/x-www-form-urlencoded")),
            b"text=hi",
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.message.contains("not JSON")
                && err
                    .message
                    .contains("Content-Type: application/x-www-form-urlencoded")
                && err
                    .message
                    .contains("send a JSON object with Content-Type: application/json"),
            "{}",
            err.message
        );
        let err = parse_json_body::<serde_json::Value>(&headers(None), b"").unwrap_err();
        assert!(
            err.message
                .starts_with("the body is empty (no Content-Type was sent)"),
            "{}",
            err.message
        );
        let err = parse_json_body::<serde_json::Value>(
            &headers(Some("multipart/form-data; boundary=x")),
            b"{}",
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            err.message.contains("Content-Type: application/json"),
            "{}",
            err.message
        );
    }
}
