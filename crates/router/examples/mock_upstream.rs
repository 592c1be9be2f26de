//! A minimal OpenAI-compatible upstream for load benchmarks
//! (`bench/router-vs-litellm.py`): fixed answers, no model, as little work
//! per request as an HTTP server can do, so that what a benchmark measures
//! is the proxy in front of it.
//!
//! ```sh
//! cargo run --release --example mock_upstream -- --listen 127.0.0.1:19540 \
//!     --chunks 16 --chunk-delay 5ms --first-chunk-delay 20ms [--threads 1] [--stamp] [--nagle]
//! ```
//!
//! - `POST /v1/chat/completions`: a fixed chat completion with `usage`; with
//!   `"stream": true`, an SSE stream: after `--first-chunk-delay`, a first
//!   chunk (role and first word), then `--chunks` − 1 more words
//!   `--chunk-delay` apart, then the `finish_reason` chunk, a usage chunk
//!   when `stream_options.include_usage` is true (as OpenAI does), and
//!   `data: [DONE]`.
//! - `GET /v1/models`: one model, `mock-gpt`.
//!
//! `--stamp` puts an SSE comment `: sent-unix-ns=<n>` in front of the first
//! chunk, written in the same write as the chunk: a client on the same host
//! subtracts it from the time it reads the chunk, which is the time the
//! chunk took to reach it (through a proxy: the proxy's forwarding delay
//! plus one loopback hop). SSE readers ignore comment lines.
//!
//! Writes go out at once (`TCP_NODELAY`), as from Go's net/http (Ollama) or
//! Python's asyncio (vLLM's uvicorn); `--nagle` leaves Nagle's algorithm on,
//! to see how a proxy copes with an upstream that batches small writes.
//!
//! One runtime thread by default: the mock shares the machine with the
//! proxy under test and the load generator, and should take one core at
//! most.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use serde::Deserialize;

const USAGE: &str = "\
usage: mock_upstream [--listen ADDR] [--chunks N] [--chunk-delay DUR]
                     [--first-chunk-delay DUR] [--threads N] [--stamp] [--nagle]";

const MODEL: &str = "mock-gpt";
/// A fixed `created`, so every answer is the same bytes.
const CREATED: u64 = 1_763_800_000;

/// About a hundred tokens of an ordinary answer.
const ANSWER: &str = "A reverse proxy in front of model servers should add as little \
latency as it can: parse only what it must to route the request, forward the body \
unchanged, and pass each streamed chunk on the moment it arrives. Everything else \
(logging, metrics, retries) belongs off the hot path or after the answer has left. \
Measured on loopback against a mock upstream, the difference between a direct call \
and a proxied one is the proxy's own cost.";

#[derive(Clone)]
struct Settings {
    chunks: usize,
    chunk_delay: Duration,
    first_chunk_delay: Duration,
    stamp: bool,
}

struct Mock {
    settings: Settings,
    /// The non-streaming answer.
    whole: Bytes,
    /// `chunks` SSE events, one word or more each.
    events: Vec<Bytes>,
    /// The `finish_reason` event, then `[DONE]`.
    tail: Bytes,
    /// The same with the usage event between them.
    tail_with_usage: Bytes,
    models: Bytes,
}

impl Mock {
    fn new(settings: Settings) -> Self {
        let words: Vec<&str> = ANSWER.split(' ').collect();
        let completion_tokens = words.len().max(settings.chunks) as u64;
        let usage = serde_json::json!({
            "prompt_tokens": 212,
            "completion_tokens": completion_tokens,
            "total_tokens": 212 + completion_tokens,
        });
        let whole = serde_json::json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": "fp_mock",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage,
        });
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            let chunk = serde_json::json!({
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": MODEL,
                "system_fingerprint": "fp_mock",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            });
            format!("data: {chunk}\n\n")
        };
        // The words spread over `chunks` events, in order.
        let n = settings.chunks.max(1);
        let events = (0..n)
            .map(|i| {
                let (from, to) = (i * words.len() / n, (i + 1) * words.len() / n);
                let mut text = words[from..to].join(" ");
                if i > 0 && !text.is_empty() {
                    text.insert(0, ' ');
                }
                let delta = if i == 0 {
                    serde_json::json!({"role": "assistant", "content": text})
                } else {
                    serde_json::json!({"content": text})
                };
                Bytes::from(chunk(delta, None))
            })
            .collect();
        let finish = chunk(serde_json::json!({}), Some("stop"));
        let usage_event = format!(
            "data: {}\n\n",
            serde_json::json!({
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": MODEL,
                "system_fingerprint": "fp_mock",
                "choices": [],
                "usage": usage,
            })
        );
        let models = serde_json::json!({
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": CREATED, "owned_by": "mock"}],
        });
        Self {
            settings,
            whole: Bytes::from(whole.to_string()),
            events,
            tail: Bytes::from(format!("{finish}data: [DONE]\n\n")),
            tail_with_usage: Bytes::from(format!("{finish}{usage_event}data: [DONE]\n\n")),
            models: Bytes::from(models.to_string()),
        }
    }
}

/// The only fields the mock reads; the rest of the prompt is ignored.
#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

async fn chat(State(mock): State<&'static Mock>, body: Bytes) -> Response {
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            let error = serde_json::json!({"error": {"message": err.to_string(),
                "type": "invalid_request_error", "param": null, "code": null}});
            return (axum::http::StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
        }
    };
    if !request.stream {
        return json(mock.whole.clone());
    }
    let usage = request.stream_options.is_some_and(|o| o.include_usage);
    let stream = futures_util::stream::unfold(0usize, move |i| async move {
        let settings = &mock.settings;
        let events = &mock.events;
        if i > events.len() {
            return None;
        }
        if i == events.len() {
            let tail = if usage {
                &mock.tail_with_usage
            } else {
                &mock.tail
            };
            return Some((Ok::<_, std::convert::Infallible>(tail.clone()), i + 1));
        }
        let delay = if i == 0 {
            settings.first_chunk_delay
        } else {
            settings.chunk_delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let event = if i == 0 && settings.stamp {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut stamped = format!(": sent-unix-ns={now}\n").into_bytes();
            stamped.extend_from_slice(&events[0]);
            Bytes::from(stamped)
        } else {
            events[i].clone()
        };
        Some((Ok(event), i + 1))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn models(State(mock): State<&'static Mock>) -> Response {
    json(mock.models.clone())
}

fn json(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

struct Args {
    listen: SocketAddr,
    threads: usize,
    nagle: bool,
    settings: Settings,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:19540".parse().expect("a socket address"),
        threads: 1,
        nagle: false,
        settings: Settings {
            chunks: 16,
            chunk_delay: Duration::from_millis(5),
            first_chunk_delay: Duration::from_millis(20),
            stamp: false,
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--stamp" {
            args.settings.stamp = true;
            continue;
        }
        if flag == "--nagle" {
            args.nagle = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |err: &dyn std::fmt::Display| format!("{flag} {value}: {err}");
        match flag.as_str() {
            "--listen" => args.listen = value.parse().map_err(|e| bad(&e))?,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--chunks" => args.settings.chunks = value.parse().map_err(|e| bad(&e))?,
            "--chunk-delay" => {
                args.settings.chunk_delay =
                    humantime::parse_duration(&value).map_err(|e| bad(&e))?
            }
            "--first-chunk-delay" => {
                args.settings.first_chunk_delay =
                    humantime::parse_duration(&value).map_err(|e| bad(&e))?
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if args.settings.chunks == 0 || args.threads == 0 {
        return Err("--chunks and --threads must be at least 1".to_owned());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("mock_upstream: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mock: &'static Mock = Box::leak(Box::new(Mock::new(args.settings)));
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(args.threads);
        builder
    }
    .enable_all()
    .build()
    .expect("a tokio runtime");
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .with_state(mock);
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        eprintln!(
            "mock_upstream: listening on http://{}",
            listener.local_addr()?
        );
        let nodelay = !args.nagle;
        let listener = listener.tap_io(move |tcp| {
            if nodelay {
                let _ = tcp.set_nodelay(true);
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("a SIGTERM handler");
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await
    });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mock_upstream: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
