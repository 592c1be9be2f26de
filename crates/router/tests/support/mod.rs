//! Shared test support: a scripted OpenAI-compatible upstream on loopback,
//! the fake Ollama, and a router running in-process in front of them.

// each test binary uses a part of this module
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hwc_ai_ollama_fake::FakeOllama;
pub use hwc_ai_test_support::sample;
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

/// How the scripted upstream answers `POST /v1/chat/completions`.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status and JSON body.
    Status(u16, &'static str),
    /// Wait this long before sending headers.
    Hang(Duration),
    /// 200 `text/event-stream`: these chunks, `gap` apart, then either the
    /// end of the body or (when `cut`) a broken connection.
    Sse {
        chunks: Vec<String>,
        gap: Duration,
        cut: bool,
    },
    /// 200 SSE that sends one chunk every `gap` and never ends.
    Endless(Duration),
}

#[derive(Clone)]
struct Shared {
    reply: Arc<Mutex<Reply>>,
    hits: Arc<AtomicU64>,
    abandoned: Arc<AtomicBool>,
    headers: Arc<Mutex<Vec<HeaderMap>>>,
}

pub struct Scripted {
    pub addr: SocketAddr,
    shared: Shared,
}

impl Scripted {
    pub async fn start(reply: Reply) -> Self {
        let shared = Shared {
            reply: Arc::new(Mutex::new(reply)),
            hits: Arc::default(),
            abandoned: Arc::default(),
            headers: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn set(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }

    pub fn abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::SeqCst)
    }

    pub fn received_headers(&self) -> Vec<HeaderMap> {
        self.shared.headers.lock().unwrap().clone()
    }
}

/// Marks the script abandoned when dropped before `done` is set.
struct Watch {
    abandoned: Arc<AtomicBool>,
    done: bool,
}

impl Watch {
    /// The body ended as scripted.
    fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.done {
            self.abandoned.store(true, Ordering::SeqCst);
        }
    }
}

async fn answer(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    shared.headers.lock().unwrap().push(headers);
    let reply = shared.reply.lock().unwrap().clone();
    match reply {
        Reply::Status(code, body) => (
            StatusCode::from_u16(code).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
        Reply::Sse { chunks, gap, cut } => {
            let watch = Watch {
                abandoned: shared.abandoned.clone(),
                done: false,
            };
            let n = chunks.len();
            let stream = futures_util::stream::unfold(
                (chunks.into_iter(), 0usize, watch),
                move |(mut it, i, watch)| async move {
                    if i > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    match it.next() {
                        Some(chunk) => Some((Ok(Bytes::from(chunk)), (it, i + 1, watch))),
                        None if cut && i == n => {
                            Some((Err(std::io::Error::other("cut")), (it, i + 1, watch)))
                        }
                        None => {
                            watch.finish();
                            None
                        }
                    }
                },
            );
            sse(Body::from_stream(stream))
        }
        Reply::Endless(gap) => {
            let watch = Watch {
                abandoned: shared.abandoned.clone(),
                done: false,
            };
            let stream = futures_util::stream::unfold(
                (0u64, watch),
                move |(i, watch)| async move {
                    if i > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    let chunk = format!(
                    "data: {{\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{i}\"}}}}]}}\n\n"
                );
                    Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), (i + 1, watch)))
                },
            );
            sse(Body::from_stream(stream))
        }
    }
}

fn sse(body: Body) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    response
}

/// A loopback address nothing listens on: connecting is refused.
pub fn refused_base_url() -> String {
    format!("http://{}/v1", free_addr())
}

/// The fake Ollama with its built-in catalog, the chat model with tools and
/// an embedding model installed.
pub async fn ollama() -> hwc_ai_ollama_fake::Server {
    let fake = FakeOllama::builtin();
    fake.install("llama3.2:3b").unwrap();
    fake.install("nomic-embed-text").unwrap();
    fake.spawn().await.unwrap()
}

/// A backend entry for the config.
pub fn backend(name: &str, base_url: &str) -> Value {
    json!({"name": name, "kind": "openai-compatible", "baseUrl": base_url})
}

/// A router running in this process.
pub struct RouterUnderTest {
    pub url: String,
    daemon: Embedded,
}

impl RouterUnderTest {
    /// Starts a router from a JSON config (its `listen` is replaced by a
    /// free loopback port).
    pub async fn start(config: Value) -> Self {
        let config: hwc_ai_router::Config =
            hwc_ai_runtime::config::parse(&config.to_string()).expect("valid test config");
        let daemon = Embedded::start(|ctx| hwc_ai_router::run(config, ctx));
        Self {
            url: daemon.url.clone(),
            daemon,
        }
    }

    pub fn chat_url(&self) -> String {
        format!("{}/v1/chat/completions", self.url)
    }

    /// POSTs `body` to the chat endpoint; status, headers and body text.
    pub async fn chat(&self, body: Value) -> (u16, HeaderMap, String) {
        let response = client()
            .post(self.chat_url())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap_or_default())
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn health(&self) -> Value {
        serde_json::from_str(&self.get("/health").await.1).unwrap()
    }

    pub async fn circuit(&self, target: &str) -> String {
        let health = self.health().await;
        health["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == target)
            .unwrap_or_else(|| panic!("no target {target} in {health}"))["circuit"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    pub async fn stop(self) {
        self.daemon.stop().await.unwrap();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: ").map(str::to_owned))
        .collect()
}
