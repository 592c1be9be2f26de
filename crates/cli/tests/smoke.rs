//! `hwc-ai smoke` tells a pass, a schema failure, a provider error and a
//! transport failure apart, by output and exit status.

mod support;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hwc_ai_test_support::Embedded;
use serde_json::json;
use support::hwc_ai;

const REPORT: &str = r#"{"date": "2026-11-22", "items": [{"id": "HL-103", "title": "Ollama disk 91% full",
  "businessValue": 8, "timeCriticality": 9, "riskReduction": 8, "jobSize": 2, "wsjf": 12.5,
  "recommendation": "do-now"}]}"#;

/// A model that answers every chat with `(status, content)`.
type Answer = Arc<Mutex<(u16, String)>>;

async fn chat(State(answer): State<Answer>) -> Response {
    let (status, content) = answer.lock().unwrap().clone();
    if status != 200 {
        return (
            StatusCode::from_u16(status).unwrap(),
            "{\"error\":{\"message\":\"boom\"}}",
        )
            .into_response();
    }
    Json(json!({"object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50}}))
    .into_response()
}

async fn smoke(args: &[&str]) -> (i32, String) {
    let (code, stdout, stderr) = hwc_ai(&[&["smoke"], args].concat()).await;
    (code, stdout + &stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_tells_the_failures_apart() {
    let answer: Answer = Arc::new(Mutex::new((200, REPORT.to_owned())));
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(answer.clone());
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/v1", upstream.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(upstream, app).await.unwrap() });

    let config: hwc_ai_router::Config = hwc_ai_runtime::config::parse(
        &json!({
            "backends": [{"name": "local", "kind": "openai-compatible", "baseUrl": upstream_url}],
            "profiles": [{"name": "triage", "schemaRepairs": 0,
                          "targets": [{"backend": "local", "model": "m"}]}],
            "circuitBreaker": {"failureThreshold": 100},
        })
        .to_string(),
    )
    .unwrap();
    let router = Embedded::start(|ctx| hwc_ai_router::run(config, ctx));
    let url = router.url.clone();

    // The first listed model is the default.
    let (code, out) = smoke(&["--url", &url]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("execute  ok    triage via local/m, 1 attempt(s)"),
        "{out}"
    );
    assert!(out.contains("schema   ok    valid: 1 item(s)"), "{out}");
    assert!(out.ends_with("PASS\n"), "{out}");

    answer.lock().unwrap().1 = REPORT.replace("do-now", "someday");
    let (code, out) = smoke(&["--url", &url, "--model", "triage"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("schema_error (422)"), "{out}");
    assert!(out.contains("/items/0/recommendation"), "{out}");

    *answer.lock().unwrap() = (500, String::new());
    let (code, out) = smoke(&["--url", &url, "--model", "triage"]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("provider_error (502)"), "{out}");

    let (code, out) = smoke(&["--url", &url, "--model", "nope"]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("profile_error (404)"), "{out}");

    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (code, out) = smoke(&["--url", &nowhere]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("connection refused"), "{out}");
}
