//! OpenTelemetry traces (`tracing.otlpEndpoint`): the daemon's binary
//! exports one trace per query over OTLP/HTTP to a receiver on loopback
//! that decodes real OTLP protobuf: the span tree (query, each model
//! round, the tool call), the caller's `traceparent` as the root's
//! parent and passed on to the router, the request id as an attribute,
//! and no prompt text in any span.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::Json;
use hwc_ai_test_support::otlp::{Receiver, Span};
use serde_json::{json, Value};

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A model that calls `disk_usage`, then answers; keeps the
/// `traceparent` of each request.
async fn start_model() -> (Arc<Mutex<Vec<Option<String>>>>, String) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(
                    headers
                        .get("traceparent")
                        .map(|v| v.to_str().unwrap().to_owned()),
                );
                let called = body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["role"] == "tool");
                let message = if called {
                    json!({"role": "assistant", "content": "Plenty of room."})
                } else {
                    json!({"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "disk_usage", "arguments": "{}"}}
                    ]})
                };
                Json(json!({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}))
            }
        }),
    );
    (kept, serve(app).await)
}

#[tokio::test]
async fn a_query_is_one_trace_from_the_callers_span_to_the_tool() {
    let receiver = Receiver::start().await;
    let (traceparents, model) = start_model().await;
    let dir = tempfile::tempdir().unwrap();
    let listen = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let config = json!({
        "listen": listen,
        "stateDirectory": dir.path().join("state"),
        "router": {"url": model},
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
    let body: Value = http
        .post(format!("http://{listen}/v1/query"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .header("x-request-id", "trace-me")
        .json(&json!({"text": "how much room is left on the shelves of this box?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["reply"], "Plenty of room.", "{body}");

    // SIGTERM: the daemon stops and sends what is queued.
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the daemon stops")
        .unwrap();
    assert!(status.success(), "{status}");

    let spans = receiver.spans();
    assert!(spans.iter().all(|s| s.service == "hwc-ai-assistant"));
    let named = |name: &str| -> Vec<&Span> { spans.iter().filter(|s| s.name == name).collect() };
    let query = named("query");
    assert_eq!(query.len(), 1, "{spans:#?}");
    let query = query[0];
    assert_eq!(query.trace, caller_trace, "the caller's trace");
    assert_eq!(query.parent, caller_span, "the caller's span is the parent");
    assert!(
        query
            .attributes
            .iter()
            .any(|(k, v)| k == "request_id" && v.contains("trace-me")),
        "{query:?}"
    );
    let rounds = named("model");
    let tools = named("tool");
    assert_eq!((rounds.len(), tools.len()), (2, 1), "{spans:#?}");
    for child in rounds.iter().chain(&tools) {
        assert_eq!(
            (child.trace.as_str(), child.parent.as_str()),
            (caller_trace, query.id.as_str())
        );
    }
    assert!(tools[0]
        .attributes
        .iter()
        .any(|(k, v)| k == "name" && v.contains("disk_usage")));
    // The router was asked inside the trace: each model call carried the
    // trace's id and its own span.
    let sent = traceparents.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    for (traceparent, round) in sent.iter().zip(&rounds) {
        let traceparent = traceparent.as_deref().expect("a traceparent to the router");
        assert_eq!(traceparent, format!("00-{caller_trace}-{}-01", round.id));
    }
    // The user's words are in no span.
    assert!(!String::from_utf8_lossy(&receiver.raw()).contains("shelves"));
}
