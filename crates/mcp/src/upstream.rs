//! One MCP server as the gateway (or the wrapper) sees it: a supervised
//! client connection that is made, watched, and made again with backoff.
//!
//! The supervisor owns the connection. Everyone else borrows its [`Peer`]
//! for a request, reads its [`Status`], or asks it to start over
//! ([`Upstream::reset`]) when a request found the server dead or hung. A
//! stdio server is the supervisor's child: when it exits, the exit status
//! and its last stderr lines become the reported error.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ServerPeerInfo, Tool};
use rmcp::service::{NotificationContext, Peer, RunningService, ServiceError};
use rmcp::{ClientHandler, RoleClient, RoleServer};
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use hwc_ai_runtime::Shutdown;

mod connect;
mod sse;
mod stdio;

pub use connect::Connector;

/// Up: initialized and answering. Starting: connecting or waiting to try
/// again after a first failure. Down: the last attempt failed or the
/// connection was lost; another attempt follows after the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Starting,
    Up,
    Down,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub state: State,
    pub last_error: Option<String>,
    /// Connections made again after the first one (a stdio server started
    /// again, a remote session re-established).
    pub restarts: u64,
    /// The stdio server's process, while it runs.
    pub pid: Option<u32>,
    #[serde(skip)]
    pub since: SystemTime,
}

/// Backoff between attempts: doubling from 1 s to 60 s, back to 1 s once a
/// connection has stayed up for a minute.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

pub struct Upstream {
    pub name: String,
    status: watch::Sender<Status>,
    conn: Mutex<Option<Conn>>,
    reset: Notify,
    kick: Notify,
    /// Signalled when the server says its tool list changed.
    pub tools_changed: Arc<Notify>,
    /// Every tool of the last complete listing, before any policy.
    tools: Mutex<Option<Arc<Vec<Tool>>>>,
    /// Clients connected through the gateway, told when the tools change.
    downstream: Mutex<Vec<Peer<RoleServer>>>,
    /// Cancelled when the supervisor has ended and its server is stopped.
    finished: CancellationToken,
}

#[derive(Clone)]
struct Conn {
    peer: Peer<RoleClient>,
    info: Arc<ServerPeerInfo>,
}

/// Why a request could not be sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

impl Upstream {
    /// Starts supervising the server `connector` reaches. `init_timeout`
    /// bounds connecting and `initialize`.
    pub fn spawn(
        name: &str,
        connector: Connector,
        init_timeout: Duration,
        shutdown: Shutdown,
    ) -> Arc<Self> {
        let (status, _) = watch::channel(Status {
            state: State::Starting,
            last_error: None,
            restarts: 0,
            pid: None,
            since: SystemTime::now(),
        });
        let upstream = Arc::new(Self {
            name: name.to_owned(),
            status,
            conn: Mutex::new(None),
            reset: Notify::new(),
            kick: Notify::new(),
            tools_changed: Arc::new(Notify::new()),
            tools: Mutex::new(None),
            downstream: Mutex::new(Vec::new()),
            finished: CancellationToken::new(),
        });
        tokio::spawn(supervise(
            upstream.clone(),
            connector,
            init_timeout,
            shutdown,
        ));
        upstream
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Resolves once shutdown has stopped the server (its process group
    /// is gone, for a stdio server) and supervision has ended.
    pub async fn stopped(&self) {
        self.finished.cancelled().await;
    }

    /// Waits until the status changes.
    pub async fn changed(&self) {
        let mut rx = self.status.subscribe();
        let _ = rx.changed().await;
    }

    /// Resolves when the state next becomes `want` from another state.
    pub async fn next_state(&self, want: State) {
        let mut rx = self.status.subscribe();
        let mut was = rx.borrow_and_update().state == want;
        loop {
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
            let now = rx.borrow_and_update().state == want;
            if now && !was {
                return;
            }
            was = now;
        }
    }

    /// What the server said in `initialize`, while connected.
    pub fn info(&self) -> Option<Arc<ServerPeerInfo>> {
        self.conn.lock().unwrap().as_ref().map(|c| c.info.clone())
    }

    /// The connection to send a request on, or why there is none.
    pub fn peer(&self) -> Result<Peer<RoleClient>, Unavailable> {
        if let Some(conn) = self.conn.lock().unwrap().as_ref() {
            return Ok(conn.peer.clone());
        }
        let status = self.status();
        Err(Unavailable(match (status.state, status.last_error) {
            (_, Some(error)) => format!("server `{}` is down: {error}", self.name),
            _ => format!("server `{}` is starting", self.name),
        }))
    }

    /// Drops the connection (a stdio server is stopped) and starts again:
    /// a request found the server dead or hung.
    pub fn reset(&self, reason: &str) {
        tracing::warn!(server = %self.name, "starting the server again: {reason}");
        self.set(|s| s.last_error = Some(reason.to_owned()));
        // Only a connection being served listens; a stored permit would
        // end the next connection at once.
        self.reset.notify_waiters();
    }

    /// The tools of the last complete listing.
    pub fn tools(&self) -> Option<Arc<Vec<Tool>>> {
        self.tools.lock().unwrap().clone()
    }

    pub fn set_tools(&self, tools: Vec<Tool>) {
        *self.tools.lock().unwrap() = Some(Arc::new(tools));
    }

    /// Lists every tool, all pages, within `timeout`. A transport failure
    /// or a timeout starts the connection over: the server is dead or hung.
    pub async fn list_tools(&self, timeout: Duration) -> Result<Vec<Tool>, Unavailable> {
        let peer = self.peer()?;
        match tokio::time::timeout(timeout, peer.list_all_tools()).await {
            Ok(Ok(tools)) => {
                self.set_tools(tools.clone());
                Ok(tools)
            }
            Ok(Err(ServiceError::McpError(err))) => {
                Err(Unavailable(format!("tools/list failed: {}", err.message)))
            }
            Ok(Err(err)) => {
                let reason = format!("tools/list failed: {err}");
                self.reset(&reason);
                Err(Unavailable(reason))
            }
            Err(_) => {
                let reason = format!(
                    "no answer to tools/list within {}",
                    humantime::format_duration(timeout)
                );
                self.reset(&reason);
                Err(Unavailable(reason))
            }
        }
    }

    /// Remembers a client connected through the gateway.
    pub fn add_downstream(&self, peer: Peer<RoleServer>) {
        let mut peers = self.downstream.lock().unwrap();
        peers.retain(|p| !p.is_transport_closed());
        peers.push(peer);
    }

    /// Tells connected clients the tool list changed.
    pub async fn notify_downstream(&self) {
        let peers: Vec<Peer<RoleServer>> = {
            let mut peers = self.downstream.lock().unwrap();
            peers.retain(|p| !p.is_transport_closed());
            peers.clone()
        };
        for peer in peers {
            let _ = peer.notify_tool_list_changed().await;
        }
    }

    /// Skips the wait before the next attempt (an on-demand check).
    pub fn kick(&self) {
        self.kick.notify_waiters();
    }

    fn set(&self, change: impl FnOnce(&mut Status)) {
        self.status.send_modify(change);
    }

    fn set_state(&self, state: State, error: Option<String>) {
        self.set(|s| {
            if s.state != state {
                s.since = SystemTime::now();
            }
            s.state = state;
            if error.is_some() || state == State::Up {
                s.last_error = error;
            }
        });
    }
}

/// The gateway's side of the connection: notices list changes; asks the
/// server for nothing (no sampling, roots or elicitation is offered).
struct Events {
    tools_changed: Arc<Notify>,
}

impl ClientHandler for Events {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("hwc-ai-mcp", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }
}

async fn supervise(
    upstream: Arc<Upstream>,
    mut connector: Connector,
    init_timeout: Duration,
    shutdown: Shutdown,
) {
    // Marks supervision as ended however it ends, a panic included.
    let _finished = upstream.finished.clone().drop_guard();
    let mut delay = FIRST_DELAY;
    let mut attempts = 0u64;
    loop {
        if shutdown.is_triggered() {
            break;
        }
        upstream.set_state(
            if attempts == 0 {
                State::Starting
            } else {
                upstream.status().state
            },
            None,
        );
        if attempts > 0 {
            upstream.set(|s| s.restarts += 1);
        }
        attempts += 1;
        let started = Instant::now();
        let events = Events {
            tools_changed: upstream.tools_changed.clone(),
        };
        let attempt = tokio::select! {
            r = tokio::time::timeout(init_timeout, connector.connect(events)) => r,
            _ = shutdown.wait() => {
                // A server still starting is stopped too, not left behind.
                connector.stop().await;
                break;
            }
        };
        let reason = match attempt {
            Err(_) => {
                let tail = connector.stop().await;
                format!(
                    "no answer to initialize within {}{tail}",
                    humantime::format_duration(init_timeout)
                )
            }
            Ok(Err(err)) => {
                // A stdio server that exited says more by its exit status.
                let exit = tokio::time::timeout(Duration::from_secs(2), connector.exited())
                    .await
                    .ok();
                let tail = connector.stop().await;
                match exit {
                    Some(exit) => format!("{exit} before answering initialize{tail}"),
                    None => format!("{err:#}{tail}"),
                }
            }
            Ok(Ok(service)) => {
                let reason = serve(&upstream, &mut connector, service, &shutdown).await;
                if shutdown.is_triggered() {
                    connector.stop().await;
                    break;
                }
                reason
            }
        };
        *upstream.conn.lock().unwrap() = None;
        upstream.set(|s| s.pid = None);
        tracing::error!(server = %upstream.name, "{reason}");
        upstream.set_state(State::Down, Some(reason));
        if started.elapsed() >= HEALTHY_AFTER {
            delay = FIRST_DELAY;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = upstream.kick.notified() => {}
            _ = shutdown.wait() => break,
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
    *upstream.conn.lock().unwrap() = None;
    // Stopped: whoever waits for the server to be gone may go on.
    upstream.set(|s| s.pid = None);
}

/// Holds a made connection until it ends; returns why it ended.
async fn serve(
    upstream: &Upstream,
    connector: &mut Connector,
    mut service: RunningService<RoleClient, Events>,
    shutdown: &Shutdown,
) -> String {
    let Some(info) = service.peer_info() else {
        return "the server sent no initialize result".into();
    };
    let version = info.protocol_version.to_string();
    *upstream.conn.lock().unwrap() = Some(Conn {
        peer: service.peer().clone(),
        info,
    });
    upstream.set(|s| s.pid = connector.pid());
    upstream.set_state(State::Up, None);
    tracing::info!(server = %upstream.name, protocol = %version, "connected");
    let reason = tokio::select! {
        exit = connector.exited() => exit,
        _ = upstream.reset.notified() => upstream
            .status()
            .last_error
            .unwrap_or_else(|| "reset".into()),
        _ = closed(service.peer()) => {
            // A stdio server's exit closes the pipe first; its status says more.
            match tokio::time::timeout(Duration::from_secs(2), connector.exited()).await {
                Ok(exit) => exit,
                Err(_) => "the connection closed".into(),
            }
        }
        _ = shutdown.wait() => String::new(),
    };
    *upstream.conn.lock().unwrap() = None;
    let _ = service.close_with_timeout(Duration::from_secs(2)).await;
    let tail = connector.stop().await;
    format!("{reason}{tail}")
}

/// Resolves when the connection's transport has closed.
async fn closed(peer: &Peer<RoleClient>) {
    loop {
        if peer.is_transport_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The last lines a stdio server wrote to stderr, for error reports.
#[derive(Clone, Default)]
pub(crate) struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    const LINES: usize = 3;
    const LINE_BYTES: usize = 300;

    pub(crate) fn push(&self, line: &str) {
        let mut line = line.trim_end().to_owned();
        if line.is_empty() {
            return;
        }
        if line.len() > Self::LINE_BYTES {
            let mut end = Self::LINE_BYTES;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
            line.push('…');
        }
        let mut lines = self.0.lock().unwrap();
        if lines.len() == Self::LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// `"; stderr: a | b"`, or nothing; empties the tail.
    pub(crate) fn take(&self) -> String {
        let lines: Vec<String> = self.0.lock().unwrap().drain(..).collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", lines.join(" | "))
        }
    }
}
