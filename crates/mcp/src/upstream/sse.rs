//! The legacy HTTP+SSE transport (protocol 2024-11-05), client side: GET
//! opens an event stream whose first event, `endpoint`, names the URL to
//! POST messages to; replies arrive as `message` events.
//!
//! rmcp dropped this transport; servers and proxies still offer it, so the
//! gateway keeps this small client of it.

use std::time::Duration;

use anyhow::{bail, Context as _};
use futures_util::StreamExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleClient;
use sse_stream::SseStream;
use tokio::sync::mpsc;

use super::connect::Remote;

pub struct SseTransport {
    messages: mpsc::Receiver<ServerJsonRpcMessage>,
    post: reqwest13::RequestBuilder,
    reader: tokio::task::JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SseError(String);

/// Opens the event stream and waits for the `endpoint` event.
pub async fn connect(remote: &Remote) -> anyhow::Result<SseTransport> {
    let mut get = remote
        .client
        .get(remote.url.clone())
        .header(http::header::ACCEPT, "text/event-stream");
    let mut post_headers = http::HeaderMap::new();
    for (name, value) in &remote.headers {
        get = get.header(name, value);
        post_headers.insert(name, value.clone());
    }
    if let Some(token) = &remote.token {
        get = get.bearer_auth(token.expose());
    }
    let response = get.send().await.context("cannot open the event stream")?;
    if !response.status().is_success() {
        bail!("opening the event stream: HTTP {}", response.status());
    }
    let mut events = SseStream::from_bytes_stream(response.bytes_stream());
    let endpoint = loop {
        match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
            Ok(Some(Ok(event))) if event.event.as_deref() == Some("endpoint") => {
                let data = event.data.unwrap_or_default();
                break remote
                    .url
                    .join(data.trim())
                    .with_context(|| format!("endpoint event `{data}` is not a URL"))?;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(err))) => bail!("reading the event stream: {err}"),
            Ok(None) => bail!("the event stream ended before its endpoint event"),
            Err(_) => bail!("no endpoint event within 30s"),
        }
    };
    let (tx, messages) = mpsc::channel(64);
    let reader = tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if !matches!(event.event.as_deref(), None | Some("message")) {
                continue;
            }
            let Some(data) = event.data else { continue };
            match serde_json::from_str::<ServerJsonRpcMessage>(&data) {
                Ok(message) => {
                    if tx.send(message).await.is_err() {
                        break;
                    }
                }
                Err(err) => tracing::warn!("ignoring an SSE message that is not JSON-RPC: {err}"),
            }
        }
    });
    let mut post = remote
        .client
        .post(endpoint)
        .headers(post_headers)
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(token) = &remote.token {
        post = post.bearer_auth(token.expose());
    }
    Ok(SseTransport {
        messages,
        post,
        reader,
    })
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseError;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl std::future::Future<Output = Result<(), SseError>> + Send + 'static {
        let post = self.post.try_clone();
        async move {
            let post = post.ok_or_else(|| SseError("cannot repeat the request".into()))?;
            let body = serde_json::to_vec(&item).map_err(|e| SseError(e.to_string()))?;
            let response = post
                .body(body)
                .send()
                .await
                .map_err(|e| SseError(format!("posting a message: {e}")))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(SseError(format!(
                    "posting a message: HTTP {}",
                    response.status()
                )))
            }
        }
    }

    fn receive(
        &mut self,
    ) -> impl std::future::Future<Output = Option<ServerJsonRpcMessage>> + Send {
        self.messages.recv()
    }

    async fn close(&mut self) -> Result<(), SseError> {
        self.reader.abort();
        Ok(())
    }
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
