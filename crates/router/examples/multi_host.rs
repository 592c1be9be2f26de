//! The router in front of three stand-in Ollama hosts on loopback, each
//! unlike the others, under the same load with three routings: the
//! router's balancing (one tier, `discover`), strict order (targets tried
//! in order, as before `backends` and `discover`), and round robin (the
//! client spreads its requests over three routes, one per host, with
//! discovery so no request is sent where the model is missing).
//! Prints tail latency, throughput, the share of requests that waited
//! for a cold model load, and the router's own time per request (its
//! `x-hwc-ai-overhead-ms`). See docs/performance.md.
//!
//! ```sh
//! cargo run --release -p hwc-ai-router --example multi_host -- [--seconds 10] [--clients 24] \
//!     [--litellm PATH]
//! ```
//!
//! With `--litellm PATH` (the `litellm` executable of a venv with
//! `litellm[proxy]`), a fourth routing: LiteLLM's proxy in front of the
//! same stand-ins with `routing_strategy: least-busy`, each model listed on
//! the hosts that have it (LiteLLM does not discover models), one worker
//! (its in-flight counts are per process), its master key checked.
//!
//! The hosts (answers after a fixed service time, `PARALLEL` at once each,
//! the rest queued inside the host, as `OLLAMA_NUM_PARALLEL` does; the
//! router's `maxConcurrent` is twice that for each):
//! - `slow`: both models, loaded; 150 ms a request;
//! - `lacks`: only `chat:8b`, loaded; 50 ms;
//! - `cold`: both models, none loaded; 50 ms, after loading a model on its
//!   first use (`LOAD`: every request meanwhile waits for it).
//!
//! Clients ask for `chat:8b` four times in five and `code:7b` once.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hwc_ai_runtime::{Context, Shutdown};
use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore};

const PARALLEL: usize = 4;
const LOAD: Duration = Duration::from_secs(3);

struct Host {
    installed: Vec<&'static str>,
    service: Duration,
    slots: Semaphore,
    /// A model's load: done once, awaited by every request meanwhile.
    loads: Mutex<HashMap<String, Arc<OnceCell<()>>>>,
    warm: Mutex<HashSet<String>>,
    served: AtomicU64,
    cold_hits: AtomicU64,
}

impl Host {
    fn new(installed: &[&'static str], loaded: &[&str], service: Duration) -> Arc<Self> {
        Arc::new(Self {
            installed: installed.to_vec(),
            service,
            slots: Semaphore::new(PARALLEL),
            loads: Mutex::default(),
            warm: Mutex::new(loaded.iter().map(|m| m.to_string()).collect()),
            served: AtomicU64::new(0),
            cold_hits: AtomicU64::new(0),
        })
    }
}

async fn tags(State(host): State<Arc<Host>>) -> Json<Value> {
    let models: Vec<Value> = host
        .installed
        .iter()
        .map(|m| json!({"name": m, "model": m}))
        .collect();
    Json(json!({ "models": models }))
}

async fn ps(State(host): State<Arc<Host>>) -> Json<Value> {
    let warm = host.warm.lock().unwrap().clone();
    let models: Vec<Value> = warm
        .iter()
        .map(|m| json!({"name": m, "model": m}))
        .collect();
    Json(json!({ "models": models }))
}

async fn chat(State(host): State<Arc<Host>>, Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if !host.installed.contains(&model.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": format!("model \"{model}\" not found, try pulling it first"),
                                  "type": "not_found_error"}})),
        )
            .into_response();
    }
    if !host.warm.lock().unwrap().contains(&model) {
        host.cold_hits.fetch_add(1, Ordering::Relaxed);
        let cell = host
            .loads
            .lock()
            .unwrap()
            .entry(model.clone())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            tokio::time::sleep(LOAD).await;
            host.warm.lock().unwrap().insert(model.clone());
        })
        .await;
    }
    let _slot = host.slots.acquire().await.unwrap();
    tokio::time::sleep(host.service).await;
    host.served.fetch_add(1, Ordering::Relaxed);
    Json(json!({"id": "c", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}))
    .into_response()
}

async fn serve(host: Arc<Host>) -> SocketAddr {
    let app = Router::new()
        .route("/api/tags", get(tags))
        .route("/api/ps", get(ps))
        .route("/v1/chat/completions", post(chat))
        .with_state(host);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

struct Outcome {
    latencies: Vec<Duration>,
    /// The router's own time per request (`x-hwc-ai-overhead-ms`).
    overheads: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
    hosts: Vec<(&'static str, u64, u64)>,
}

/// LiteLLM's proxy in front of `hosts` with least-busy routing; its
/// chat URL once it answers.
async fn start_litellm(
    exe: &str,
    hosts: &[(&str, SocketAddr, &[&str])],
) -> (tokio::process::Child, String, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let model_list: Vec<Value> = hosts
        .iter()
        .flat_map(|(_, addr, installed)| {
            installed.iter().map(move |m| {
                json!({"model_name": m, "litellm_params": {
                    "model": format!("openai/{m}"), "api_key": "none",
                    "api_base": format!("http://{addr}/v1")}})
            })
        })
        .collect();
    // JSON is YAML
    let config = json!({
        "model_list": model_list,
        "router_settings": {"routing_strategy": "least-busy"},
        "litellm_settings": {"set_verbose": false, "turn_off_message_logging": true,
                             "request_timeout": 60},
        "general_settings": {"disable_spend_logs": true, "disable_error_logs": true},
    });
    let path = work.path().join("litellm.yaml");
    std::fs::write(&path, config.to_string()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(work.path().join("litellm.log")).unwrap();
    let child = tokio::process::Command::new(exe)
        .args(["--config", path.to_str().unwrap(), "--host", "127.0.0.1"])
        .args(["--port", &port.to_string(), "--num_workers", "1"])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_LOG", "ERROR")
        .env("LITELLM_MODE", "PRODUCTION")
        .env("LITELLM_MASTER_KEY", LITELLM_KEY)
        .current_dir(work.path())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("starting litellm");
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let answer = client
            .post(&url)
            .bearer_auth(LITELLM_KEY)
            .json(&json!({"model": "chat:8b", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "litellm did not answer within 300 s: {}",
            std::fs::read_to_string(work.path().join("litellm.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    (child, url, work)
}

const LITELLM_KEY: &str = "sk-multi-host-bench";

async fn run(routing: &str, seconds: u64, clients: usize, litellm: Option<&str>) -> Outcome {
    let names = ["slow", "lacks", "cold"];
    let hosts = [
        Host::new(
            &["chat:8b", "code:7b"],
            &["chat:8b", "code:7b"],
            Duration::from_millis(150),
        ),
        Host::new(&["chat:8b"], &["chat:8b"], Duration::from_millis(50)),
        Host::new(&["chat:8b", "code:7b"], &[], Duration::from_millis(50)),
    ];
    let mut backends = Vec::new();
    let mut addrs = Vec::new();
    for (name, host) in names.iter().zip(&hosts) {
        let addr = serve(host.clone()).await;
        addrs.push((*name, addr, host.installed.as_slice()));
        backends.push(json!({"name": name, "kind": "openai-compatible",
            "baseUrl": format!("http://{addr}/v1"), "discover": routing != "strict",
            "maxConcurrent": 2 * PARALLEL}));
    }
    let routes = match routing {
        "balanced" => json!([{"model": "*", "targets": [{"backends": names}]}]),
        "strict" => json!([{"model": "*", "targets": names.map(|n| json!({"backend": n}))}]),
        // One route per host; the client picks the next in turn among the
        // hosts that list the model (as a round-robin balancer in front of
        // discovering backends would).
        _ => Value::Array(
            names
                .iter()
                .zip(&hosts)
                .flat_map(|(n, h)| {
                    h.installed.iter().map(move |m| {
                        json!({"model": format!("{n}/{m}"), "targets": [{"backend": n, "model": m}]})
                    })
                })
                .collect(),
        ),
    };
    let config: hwc_ai_router::Config = hwc_ai_runtime::config::parse(
        &json!({"backends": backends, "routes": routes,
                "defaults": {"timeout": "60s", "queueTimeout": "60s"}})
        .to_string(),
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    let shutdown = Shutdown::new();
    let mut ctx = Context::embedded(shutdown.clone());
    ctx.listener = Some(listener);
    let router = tokio::spawn(hwc_ai_router::run(config, ctx));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let litellm = match litellm {
        Some(exe) if routing == "litellm" => Some(start_litellm(exe, &addrs).await),
        _ => None,
    };
    // LiteLLM's warm-up request went to some host: count from here
    for host in &hosts {
        host.served.store(0, Ordering::Relaxed);
        host.cold_hits.store(0, Ordering::Relaxed);
    }
    let url = litellm.as_ref().map_or(url, |(_, url, _)| url.clone());

    let client = reqwest::Client::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    let turn = Arc::new(AtomicU64::new(0));
    let begun = Instant::now();
    let workers = (0..clients).map(|c| {
        let client = client.clone();
        let url = url.clone();
        let turn = turn.clone();
        async move {
            let mut latencies = Vec::new();
            let mut overheads = Vec::new();
            let mut errors = 0;
            let mut i = c as u64;
            while Instant::now() < end {
                i += 1;
                let model = if i.is_multiple_of(5) {
                    "code:7b"
                } else {
                    "chat:8b"
                };
                let model = if routing == "round-robin" {
                    // `lacks` has no code:7b: the turn skips it.
                    let hosts: &[&str] = if model == "code:7b" {
                        &["slow", "cold"]
                    } else {
                        &["slow", "lacks", "cold"]
                    };
                    let n = turn.fetch_add(1, Ordering::Relaxed) as usize;
                    format!("{}/{model}", hosts[n % hosts.len()])
                } else {
                    model.to_owned()
                };
                let body = json!({"model": model, "messages": [
                    {"role": "user", "content": format!("client {c} question {i}")}]});
                let sent = Instant::now();
                let ok = match client
                    .post(&url)
                    .bearer_auth(LITELLM_KEY)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) => {
                        if let Some(ms) = r
                            .headers()
                            .get("x-hwc-ai-overhead-ms")
                            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
                        {
                            overheads.push(Duration::from_secs_f64(ms / 1000.0));
                        }
                        r.status().is_success() && r.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, overheads, errors)
        }
    });
    let results = futures_util::future::join_all(workers).await;
    let elapsed = begun.elapsed();
    drop(litellm);
    shutdown.trigger();
    let _ = router.await;
    let mut latencies = Vec::new();
    let mut overheads = Vec::new();
    let mut errors = 0;
    for (l, o, e) in results {
        latencies.extend(l);
        overheads.extend(o);
        errors += e;
    }
    latencies.sort_unstable();
    overheads.sort_unstable();
    Outcome {
        latencies,
        overheads,
        errors,
        elapsed,
        hosts: names
            .iter()
            .zip(&hosts)
            .map(|(n, h)| {
                (
                    *n,
                    h.served.load(Ordering::Relaxed),
                    h.cold_hits.load(Ordering::Relaxed),
                )
            })
            .collect(),
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let seconds = arg("--seconds", 10);
    let clients = arg("--clients", 24) as usize;
    let litellm = args
        .iter()
        .position(|a| a == "--litellm")
        .and_then(|i| args.get(i + 1))
        .cloned();
    println!(
        "{clients} clients, {seconds} s each; hosts: slow (150 ms), lacks (no code:7b, 50 ms), \
         cold (50 ms after a {} s load); {PARALLEL} parallel per host",
        LOAD.as_secs()
    );
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>8} {:>13}  served slow/lacks/cold",
        "routing",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "errors",
        "cold %",
        "own p50/p99"
    );
    let routings: &[&str] = if litellm.is_some() {
        &["balanced", "strict", "round-robin", "litellm"]
    } else {
        &["balanced", "strict", "round-robin"]
    };
    for &routing in routings {
        let o = run(routing, seconds, clients, litellm.as_deref()).await;
        let answered = o.latencies.len() as u64;
        let cold: u64 = o.hosts.iter().map(|h| h.2).sum();
        let served: Vec<String> = o.hosts.iter().map(|h| h.1.to_string()).collect();
        println!(
            "{:<12} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>9.1} {:>6} {:>8.2} {:>6.3}/{:<6.3}  {}",
            routing,
            pct(&o.latencies, 0.50),
            pct(&o.latencies, 0.95),
            pct(&o.latencies, 0.99),
            o.latencies
                .last()
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
            answered as f64 / o.elapsed.as_secs_f64(),
            o.errors,
            100.0 * cold as f64 / (answered + o.errors).max(1) as f64,
            pct(&o.overheads, 0.50),
            pct(&o.overheads, 0.99),
            served.join("/")
        );
    }
}
