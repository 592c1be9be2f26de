//! Traces through the router: the caller's `traceparent` and
//! `x-request-id` taken in, the router's spans exported over OTLP/HTTP
//! (the daemon's binary, to a receiver on loopback that decodes real
//! OTLP protobuf) and the trace passed on to the model server (the fake
//! Ollama, which keeps the `traceparent` it was sent). With traces off,
//! the caller's `traceparent` is passed on as it came.

mod support;

use std::time::Duration;

use hwc_ai_test_support::free_addr;
use hwc_ai_test_support::otlp::Receiver;
use serde_json::{json, Value};
use support::*;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn config(ollama: &hwc_ai_ollama_fake::Server) -> Value {
    json!({
        // The first target is down: the request is answered by the second,
        // so the trace holds two attempts.
        "backends": [
            backend("down", &refused_base_url()),
            backend("ollama", &format!("{}/v1", ollama.url())),
        ],
        "routes": [{"model": "local-fast", "targets": [
            {"backend": "down", "model": "llama3.2:3b"},
            {"backend": "ollama", "model": "llama3.2:3b"}
        ]}]
    })
}

#[tokio::test]
async fn a_request_continues_the_callers_trace_into_the_model_server() {
    let receiver = Receiver::start().await;
    let ollama = ollama().await;
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr().to_string();
    let mut config = config(&ollama);
    config["listen"] = json!(listen);
    config["tracing"] = json!({"otlpEndpoint": receiver.url});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwc-ai-router"))
        .arg("--config")
        .arg(dir.path().join("config.json"))
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = client();
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
    let response = http
        .post(format!("http://{listen}/v1/chat/completions"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-request-id", "bot-7f3a")
        .json(&json!({"model": "local-fast", "messages": [
            {"role": "user", "content": "what is on the shelves?"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-request-id"],
        "bot-7f3a",
        "the caller's request id"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: what is on the shelves?"
    );

    // SIGTERM: the router stops and sends what is queued.
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the router stops")
        .unwrap();
    assert!(status.success(), "{status}");

    let spans = receiver.spans();
    let request: Vec<_> = spans.iter().filter(|s| s.name == "request").collect();
    assert_eq!(request.len(), 1, "{spans:#?}");
    let request = request[0];
    assert_eq!(request.service, "hwc-ai-router");
    assert_eq!(request.trace, CALLER_TRACE, "the caller's trace");
    assert_eq!(
        request.parent, CALLER_SPAN,
        "the caller's span is the parent"
    );
    for (key, value) in [
        ("request_id", "bot-7f3a"),
        ("route", "local-fast"),
        ("target.id", "ollama/llama3.2:3b"),
        ("status", "200"),
    ] {
        assert_eq!(request.attribute(key), Some(value), "{key}: {request:?}");
    }
    assert!(
        request.attribute("completion_tokens").is_some(),
        "{request:?}"
    );
    let attempts: Vec<_> = spans.iter().filter(|s| s.name == "attempt").collect();
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    for attempt in &attempts {
        assert_eq!(
            (attempt.trace.as_str(), attempt.parent.as_str()),
            (CALLER_TRACE, request.id.as_str())
        );
    }
    let outcome = |target: &str| {
        let attempt = attempts
            .iter()
            .find(|a| a.attribute("target.id") == Some(target))
            .unwrap_or_else(|| panic!("no attempt of {target}: {attempts:#?}"));
        (
            attempt.id.clone(),
            attempt.attribute("outcome").map(str::to_owned),
        )
    };
    assert_eq!(outcome("down/llama3.2:3b").1.as_deref(), Some("connect"));
    let (answered, how) = outcome("ollama/llama3.2:3b");
    assert_eq!(how.as_deref(), Some("answered"));

    // The model server was asked inside the trace, from the attempt that
    // reached it.
    let sent = ollama.requests();
    let chat = sent
        .iter()
        .find(|r| r.path == "/v1/chat/completions")
        .unwrap();
    assert_eq!(
        chat.traceparent.as_deref(),
        Some(format!("00-{CALLER_TRACE}-{answered}-01").as_str())
    );
    // The user's words are in no span.
    assert!(!String::from_utf8_lossy(&receiver.raw()).contains("shelves"));
}

#[tokio::test]
async fn without_traces_the_callers_traceparent_and_request_id_pass_through() {
    let ollama = ollama().await;
    let router = RouterUnderTest::start(config(&ollama)).await;
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let send = |id: &'static str| {
        client()
            .post(router.chat_url())
            .header("traceparent", &traceparent)
            .header("x-request-id", id)
            .json(&json!({"model": "local-fast", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let response = send("bot-7f3a").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "bot-7f3a");
    let chat = ollama.requests().pop().unwrap();
    assert_eq!(chat.traceparent.as_deref(), Some(traceparent.as_str()));

    // An id that is not a sane token is not reused: the router makes its own.
    let response = send("no spaces, please").await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(id.starts_with("req-"), "{id}");
}
