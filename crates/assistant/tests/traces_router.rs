//! One trace across the stack: a bot's `traceparent` into the assistant
//! (its binary, traces on), its model calls through hwc-ai-router (in this
//! process, with the runtime's exporter installed for it, as its unit
//! would) to the fake Ollama; both daemons export to one OTLP receiver on
//! loopback, and the spans form one tree from the bot's span down to the
//! router's attempt, whose `traceparent` the model server was sent.

use std::time::Duration;

use hwc_ai_ollama_fake::FakeOllama;
use hwc_ai_runtime::otel::TracingConfig;
use hwc_ai_test_support::otlp::Receiver;
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_and_its_router_requests_are_one_trace() {
    let receiver = Receiver::start().await;
    let traces = hwc_ai_runtime::otel::install(
        "router",
        &hwc_ai_runtime::LogConfig::default(),
        &TracingConfig {
            otlp_endpoint: receiver.url.parse().unwrap(),
            service_name: None,
        },
    )
    .unwrap();
    let fake = FakeOllama::builtin();
    fake.install("llama3.2:3b").unwrap();
    let ollama = fake.spawn().await.unwrap();
    let router: hwc_ai_router::Config = hwc_ai_runtime::config::parse(
        &json!({"backends": [{"name": "ollama", "kind": "openai-compatible", "baseUrl": format!("{}/v1", ollama.url())}],
                "routes": [{"model": "assistant", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]}]})
        .to_string(),
    )
    .unwrap();
    let router = Embedded::start(|ctx| hwc_ai_router::run(router, ctx));

    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr().to_string();
    let config = json!({
        "listen": listen,
        "stateDirectory": dir.path().join("state"),
        "router": {"url": router.url},
        "tools": ["disk_usage"],
        "tracing": {"otlpEndpoint": receiver.url},
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwc-ai-assistant"))
        .arg("--config")
        .arg(dir.path().join("config.json"))
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("http://{listen}/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = http
        .post(format!("http://{listen}/v1/query"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .header("x-request-id", "bot-7f3a")
        .json(&json!({"text": "how much room is left on the shelves of this box?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["reply"].is_string(), "{body}");

    // Both stop and send what is queued.
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the assistant stops")
        .unwrap();
    assert!(status.success(), "{status}");
    router.stop().await.unwrap();
    tokio::task::spawn_blocking(move || traces.shutdown())
        .await
        .unwrap();

    let spans = receiver.spans();
    assert!(
        spans.iter().all(|s| s.trace == caller_trace),
        "one trace: {spans:#?}"
    );
    let of = |service: &str, name: &str| -> Vec<_> {
        spans
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect()
    };
    let query = of("hwc-ai-assistant", "query");
    assert_eq!(query.len(), 1, "{spans:#?}");
    assert_eq!(query[0].parent, caller_span);
    // Each of the assistant's calls to a model is the parent of one
    // router request, and each request of one attempt.
    let calls: Vec<_> = spans
        .iter()
        .filter(|s| s.service == "hwc-ai-assistant" && (s.name == "model" || s.name == "classify"))
        .collect();
    let requests = of("hwc-ai-router", "request");
    assert!(!requests.is_empty(), "{spans:#?}");
    assert_eq!(requests.len(), calls.len(), "{spans:#?}");
    for request in &requests {
        assert!(
            calls.iter().any(|c| c.id == request.parent),
            "{request:?} under {calls:#?}"
        );
        assert_eq!(request.attribute("route"), Some("assistant"));
        // The query's request id, which the router took as its own.
        assert_eq!(request.attribute("request_id"), Some("bot-7f3a"));
    }
    let attempts = of("hwc-ai-router", "attempt");
    assert_eq!(attempts.len(), requests.len(), "{spans:#?}");
    // The model server was sent the trace, from the router's attempts.
    let sent: Vec<String> = ollama
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .filter_map(|r| r.traceparent)
        .collect();
    assert_eq!(sent.len(), attempts.len());
    for (traceparent, attempt) in sent.iter().zip(&attempts) {
        assert!(
            requests.iter().any(|r| r.id == attempt.parent),
            "{attempt:?}"
        );
        assert!(
            attempts
                .iter()
                .any(|a| *traceparent == format!("00-{caller_trace}-{}-01", a.id)),
            "{traceparent}"
        );
    }
    assert!(!String::from_utf8_lossy(&receiver.raw()).contains("shelves"));
}
