//! `hwc-ai-mcp wrap`: one stdio server served over streamable HTTP on a
//! unix socket, so that each server runs in its own sandboxed unit and the
//! gateway, in another, reaches it through the socket.
//!
//! The socket answers `/mcp` (the server, one shared session to it),
//! `/status` (state, last error, restarts, pid) and `/metrics`. A server
//! that exits or stops answering is started again with backoff.

use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::Value;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use hwc_ai_runtime::{http, Context, Daemon};

use crate::config::WrapConfig;
use crate::proxy::Proxy;
use crate::upstream::{Connector, State, Upstream};

pub struct Wrap;

/// A request through the wrapper is bounded by the gateway's call
/// timeout; this only stops a request from waiting forever.
const REQUEST_BOUND: Duration = Duration::from_secs(3600);

impl Daemon for Wrap {
    const NAME: &'static str = "mcp-wrap";
    type Config = WrapConfig;

    async fn run(config: WrapConfig, ctx: Context) -> anyhow::Result<()> {
        let connector = Connector::stdio(&config.name, config.stdio())?;
        let upstream = Upstream::spawn(
            &config.name,
            connector,
            config.initialize_timeout,
            ctx.shutdown.child(),
        );
        let mut registry = hwc_ai_runtime::metrics::registry(Self::NAME);
        let up = Gauge::<i64>::default();
        let restarts = Counter::<u64>::default();
        let sub = registry.sub_registry_with_prefix("hwc_ai_mcp_wrap");
        sub.register(
            "server_up",
            "Whether the wrapped server is initialized and running",
            up.clone(),
        );
        sub.register(
            "server_restarts",
            "Times the wrapped server was started again",
            restarts.clone(),
        );
        {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                loop {
                    let status = upstream.status();
                    up.set(i64::from(status.state == State::Up));
                    if status.restarts > restarts.get() {
                        restarts.inc_by(status.restarts - restarts.get());
                    }
                    upstream.changed().await;
                }
            });
        }

        let cancel = CancellationToken::new();
        let proxy = Proxy {
            upstream: upstream.clone(),
            policy: None,
            timeout: REQUEST_BOUND,
            metrics: None,
        };
        // The socket's file mode is the access control: any Host will do.
        let mcp = StreamableHttpService::new(
            move || Ok(proxy.clone()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default()
                .with_allowed_hosts(Vec::<String>::new())
                .with_cancellation_token(cancel.child_token()),
        );
        let status_upstream = upstream.clone();
        let name = config.name.clone();
        let app = Router::new()
            .nest_service("/mcp", mcp)
            .route(
                "/status",
                get(move || {
                    let status = status_upstream.status();
                    let name = name.clone();
                    async move {
                        let mut doc = serde_json::to_value(status).unwrap_or_default();
                        doc["name"] = Value::String(name);
                        Json(doc)
                    }
                }),
            )
            .merge(http::metrics_routes(Arc::new(registry)));

        let listener = unix_listener(ctx.listener, &config.socket)?;
        ctx.notify.ready(&format!(
            "serving {} on {}",
            config.name,
            config.socket.display()
        ));
        tracing::info!(server = %config.name, socket = %config.socket.display(), "ready");
        let shutdown = ctx.shutdown.clone();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.wait().await;
            cancel.cancel();
        });
        let drain = async {
            ctx.shutdown.wait().await;
            tokio::time::sleep(http::DEFAULT_DRAIN).await;
        };
        tokio::select! {
            result = server => result?,
            _ = drain => tracing::warn!("requests still running after the drain; closing them"),
        }
        // Let the supervisor stop the server's process group (SIGTERM,
        // then SIGKILL after its grace period).
        if tokio::time::timeout(Duration::from_secs(5), upstream.stopped())
            .await
            .is_err()
        {
            tracing::warn!("the server's process group did not stop within 5s");
        }
        Ok(())
    }
}

/// The socket systemd passed (socket activation), else one bound at
/// `path`, replacing a stale file left by a previous run.
fn unix_listener(
    inherited: Option<std::net::TcpListener>,
    path: &Path,
) -> anyhow::Result<UnixListener> {
    if let Some(listener) = inherited {
        // The runtime hands over the first passed descriptor typed as a
        // TCP listener; for this unit it is a unix stream socket.
        let fd = listener.into_raw_fd();
        // SAFETY: the descriptor came from systemd for this process and is
        // owned by nothing else after `into_raw_fd`.
        let std = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
        std.local_addr()
            .context("the socket passed by systemd is not a unix socket")?;
        std.set_nonblocking(true)?;
        return Ok(UnixListener::from_std(std)?);
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot replace {}", path.display())),
    }
    UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))
}

/// A wrapper's `/status`, or `None` when it cannot be read.
pub async fn status(socket: &Path) -> Option<Value> {
    let read = async {
        let stream = tokio::net::UnixStream::connect(socket).await.ok()?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
        tokio::spawn(connection);
        let request = hyper::Request::get("/status")
            .header(hyper::header::HOST, "localhost")
            .body(http_body_util::Empty::<axum::body::Bytes>::new())
            .ok()?;
        let response = sender.send_request(request).await.ok()?;
        let body = response.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice(&body).ok()
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .ok()
        .flatten()
}
