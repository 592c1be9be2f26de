//! The daemon's HTTP side: the listener (inherited from systemd or bound),
//! the shared routes, and a server that drains gracefully.

use std::future::IntoFuture;
use std::net::SocketAddr;
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

/// Serves `app` until shutdown, then lets in-flight requests finish for at
/// most `drain`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Shutdown,
    drain: Duration,
) -> anyhow::Result<()> {
    let graceful = shutdown.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { graceful.wait().await })
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => Ok(result?),
        _ = async { shutdown.wait().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("in-flight requests still running after {drain:?}; closing them");
            Ok(())
        }
    }
}
