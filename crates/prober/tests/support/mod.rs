//! Shared test support: a scriptable upstream HTTP server on loopback and a
//! prober running in-process against it.

// each test binary uses a part of this module
#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
pub use hwc_ai_test_support::sample;
use hwc_ai_test_support::Embedded;

/// How one path of the upstream answers.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16, &'static str),
    /// Wait this long before sending headers.
    Hang(Duration),
    /// 200 with a body that never ends.
    Endless,
    /// 200 only with `Authorization: Bearer <token>`, else 401.
    RequireBearer(String),
}

#[derive(Default)]
struct Script {
    replies: HashMap<String, Reply>,
    hits: HashMap<String, u64>,
    received: Vec<(String, HeaderMap, String)>,
}

/// A test HTTP server whose answers the test changes while it runs.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Upstream {
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new()
            .route("/{*path}", any(answer))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, script }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.script
            .lock()
            .unwrap()
            .replies
            .insert(path.trim_start_matches('/').to_owned(), reply);
    }

    pub fn hits(&self, path: &str) -> u64 {
        let script = self.script.lock().unwrap();
        script
            .hits
            .get(path.trim_start_matches('/'))
            .copied()
            .unwrap_or(0)
    }

    /// Requests received on `path`: headers and body.
    pub fn received(&self, path: &str) -> Vec<(HeaderMap, String)> {
        let path = path.trim_start_matches('/');
        let script = self.script.lock().unwrap();
        script
            .received
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let reply = {
        let mut s = script.lock().unwrap();
        *s.hits.entry(path.clone()).or_default() += 1;
        s.received.push((path.clone(), headers.clone(), body));
        s.replies.get(&path).cloned()
    };
    match reply {
        None => (StatusCode::NOT_FOUND, "no such path").into_response(),
        Some(Reply::Status(code, body)) => {
            (StatusCode::from_u16(code).unwrap(), body).into_response()
        }
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
        Some(Reply::Endless) => {
            let chunks = futures_util::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(bytes_of(vec![b'x'; 8192]))
            });
            Response::new(Body::from_stream(chunks))
        }
        Some(Reply::RequireBearer(token)) => {
            let ok = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == format!("Bearer {token}"));
            if ok {
                (StatusCode::OK, "ok").into_response()
            } else {
                (StatusCode::UNAUTHORIZED, "who are you").into_response()
            }
        }
    }
}

fn bytes_of(v: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(v)
}

/// A prober running in this process.
pub struct Prober {
    pub url: String,
    daemon: Embedded,
}

impl Prober {
    /// Starts a prober from a JSON config (its `listen` is replaced by a
    /// free loopback port).
    pub async fn start(config: serde_json::Value) -> Self {
        let config: hwc_ai_prober::Config =
            hwc_ai_runtime::config::parse(&config.to_string()).expect("valid test config");
        let daemon = Embedded::start(|ctx| hwc_ai_prober::run(config, ctx));
        Self {
            url: daemon.url.clone(),
            daemon,
        }
    }

    pub async fn health(&self) -> serde_json::Value {
        reqwest::get(format!("{}/health", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn target(&self, name: &str) -> serde_json::Value {
        let health = self.health().await;
        health["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no target {name} in {health}"))
    }

    pub async fn metrics(&self) -> String {
        self.daemon.metrics().await
    }

    /// Waits until target `name` is in `state`, or panics after `within`.
    pub async fn wait_state(&self, name: &str, state: &str, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let target = self.target(name).await;
            if target["state"] == state {
                return target;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{name} did not become {state} within {within:?}: {target}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.daemon.stop().await.unwrap();
    }
}
