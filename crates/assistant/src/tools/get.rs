//! The only way the tools talk to other services: HTTP `GET`, over TCP or
//! a unix socket, bounded in time and size. There is no other method here
//! to call.

use std::path::Path;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use super::ToolError;

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 4 << 20;

/// `GET url` (http or https) as JSON.
pub async fn json(client: &reqwest::Client, url: &str) -> Result<Value, ToolError> {
    let response = client.get(url).timeout(TIMEOUT).send().await.map_err(|e| {
        ToolError::Unavailable(format!("cannot reach {}: {}", host(url), e.without_url()))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(ToolError::Unavailable(format!(
            "{} answered {status}",
            host(url)
        )));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ToolError::Unavailable(e.without_url().to_string()))?;
    if body.len() > MAX_BODY {
        return Err(ToolError::Failed(format!(
            "{} answered more than 4 MiB",
            host(url)
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ToolError::Failed(format!("{} answered with invalid JSON: {e}", host(url))))
}

/// `GET path` on the HTTP server behind the unix socket `socket`, as JSON.
pub async fn unix_json(socket: &Path, path: &str) -> Result<Value, ToolError> {
    let request = async {
        let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
            ToolError::Unavailable(format!("cannot connect to {}: {e}", socket.display()))
        })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| ToolError::Unavailable(e.to_string()))?;
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ToolError::Unavailable(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| ToolError::Failed(format!("reading the answer: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!(
                "{} answered {status}",
                socket.display()
            )));
        }
        serde_json::from_slice(&body).map_err(|e| ToolError::Failed(format!("invalid JSON: {e}")))
    };
    tokio::time::timeout(TIMEOUT, request).await.map_err(|_| {
        ToolError::Unavailable(format!("{} did not answer within 5s", socket.display()))
    })?
}

/// `scheme://host:port` of a URL, for messages: never its path or query,
/// which can hold tokens.
fn host(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "the service".into())
}
