//! `POST /execute` and strict schema checking on `/v1/chat/completions`:
//! profiles resolve, answers are checked with a real JSON Schema
//! validator, invalid ones are repaired, then passed to the next target,
//! then refused as `schema_error`; every error has its kind.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use support::*;

/// What a scripted model says, in order; the last one repeats.
#[derive(Clone)]
enum Say {
    /// 200 with this message content.
    Content(&'static str),
    /// This status and body.
    Status(u16, String),
    /// No answer for this long.
    Hang(Duration),
}

#[derive(Clone, Default)]
struct Model {
    script: Arc<Mutex<VecDeque<Say>>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Model {
    async fn start(script: Vec<Say>) -> (Self, String) {
        let model = Model {
            script: Arc::new(Mutex::new(script.into())),
            seen: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/messages", post(messages))
            .with_state(model.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (model, url)
    }

    fn next(&self) -> Say {
        let mut script = self.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap()
        }
    }

    fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

async fn chat(State(model): State<Model>, Json(body): Json<Value>) -> Response {
    model.seen.lock().unwrap().push(body);
    match model.next() {
        Say::Content(text) => Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }))
        .into_response(),
        Say::Status(code, body) => (
            StatusCode::from_u16(code).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Say::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}

/// Anthropic's Messages API: the forced tool's input is the content.
async fn messages(State(model): State<Model>, Json(body): Json<Value>) -> Response {
    model.seen.lock().unwrap().push(body);
    let Say::Content(text) = model.next() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let input: Value = serde_json::from_str(text).unwrap();
    Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "structured_output", "input": input}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 20, "output_tokens": 8},
    }))
    .into_response()
}

fn triage_schema() -> Value {
    json!({
        "type": "object",
        "required": ["items"],
        "additionalProperties": false,
        "properties": {"items": {"type": "array", "items": {
            "type": "object", "required": ["id", "wsjf"],
            "properties": {"id": {"type": "string"}, "wsjf": {"type": "number"}}}}}
    })
}

const VALID: &str = r#"{"items": [{"id": "T-1", "wsjf": 4.5}]}"#;
const WRONG: &str = r#"{"items": [{"id": 1}]}"#;

async fn router(backends: Vec<Value>, profiles: Value) -> RouterUnderTest {
    RouterUnderTest::start(json!({
        "backends": backends,
        "routes": [{"model": "plain", "targets": [{"backend": "a", "model": "m"}]}],
        "profiles": profiles,
        "circuitBreaker": {"failureThreshold": 100},
    }))
    .await
}

async fn execute(router: &RouterUnderTest, body: Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}/execute", router.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_profile_fills_defaults_and_the_request_overrides_them() {
    let (model, url) = Model::start(vec![Say::Content("fine")]).await;
    let router = router(
        vec![backend("a", &url)],
        json!([{"name": "custodian-triage-balanced", "targets": [{"backend": "a", "model": "m"}],
                "temperature": 0.2, "maxTokens": 300, "reasoningEffort": "low",
                "params": {"top_p": 0.9}}]),
    )
    .await;
    let (status, body) = execute(
        &router,
        json!({"model_name": "custodian-triage-balanced", "system": "be brief",
               "prompt": "status?", "temperature": 0.7, "model_params": {"seed": 3}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"], "fine");
    assert_eq!(body["model"], "custodian-triage-balanced");
    assert_eq!(body["target"], "a/m");
    assert_eq!(body["usage"]["total_tokens"], 15);
    assert_eq!(body["attempts"][0]["outcome"], "ok");
    let sent = &model.seen()[0];
    assert_eq!(sent["model"], "m");
    assert_eq!(sent["temperature"], 0.7, "the request wins");
    assert_eq!(sent["max_tokens"], 300, "the profile fills the rest");
    assert_eq!(sent["reasoning_effort"], "low");
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["seed"], 3);
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "status?"})
    );

    // Profiles are model names on the OpenAI endpoint too, and listed.
    let (status, _, text) = router
        .chat(json!({"model": "custodian-triage-balanced",
                     "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(model.seen()[1]["max_tokens"], 300);
    let (_, models) = router.get("/v1/models").await;
    assert!(models.contains("custodian-triage-balanced"), "{models}");
}

#[tokio::test]
async fn an_invalid_answer_is_repaired_with_the_validation_errors() {
    let (model, url) = Model::start(vec![Say::Content(WRONG), Say::Content(VALID)]).await;
    let router = router(vec![backend("a", &url)], json!([])).await;
    let (status, body) = execute(
        &router,
        json!({"model_name": "plain", "prompt": "triage",
               "model_params": {"json_schema": triage_schema()}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let content: Value = serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["items"][0]["id"], "T-1");
    assert_eq!(body["attempts"][0]["outcome"], "schema_error");
    assert_eq!(body["attempts"][1]["outcome"], "ok");
    let seen = model.seen();
    assert_eq!(seen[0]["response_format"]["type"], "json_schema");
    assert_eq!(
        seen[0]["response_format"]["json_schema"]["schema"],
        triage_schema()
    );
    let repair = seen[1]["messages"].as_array().unwrap();
    assert_eq!(repair[1]["role"], "assistant");
    assert_eq!(repair[1]["content"], WRONG);
    let ask = repair[2]["content"].as_str().unwrap();
    assert!(ask.contains("/items/0/id") && ask.contains("wsjf"), "{ask}");
    let (_, metrics) = router.get("/metrics").await;
    assert!(
        metrics.contains(
            r#"hwc_ai_router_schema_checks_total{route="plain",target="a/m",result="invalid"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"hwc_ai_router_schema_checks_total{route="plain",target="a/m",result="valid"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn repair_then_fallback_then_schema_error() {
    let (bad, bad_url) = Model::start(vec![Say::Content("not json at all")]).await;
    let (good, good_url) = Model::start(vec![Say::Content(VALID)]).await;
    let profiles = json!([
        {"name": "falls-back", "schemaRepairs": 1,
         "targets": [{"backend": "bad", "model": "m"}, {"backend": "good", "model": "m"}]},
        {"name": "never-valid", "schemaRepairs": 2, "targets": [{"backend": "bad", "model": "m"}]},
    ]);
    let router = router(
        vec![
            backend("a", &good_url),
            backend("bad", &bad_url),
            backend("good", &good_url),
        ],
        profiles,
    )
    .await;
    let ask = |name: &str| {
        json!({"model_name": name, "prompt": "triage",
               "model_params": {"json_schema": {"name": "triage", "schema": triage_schema()}}})
    };
    let (status, body) = execute(&router, ask("falls-back")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["target"], "good/m");
    let outcomes: Vec<_> = body["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["target"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("bad/m".into(), "schema_error".into()),
            ("bad/m".into(), "schema_error".into()),
            ("good/m".into(), "ok".into())
        ]
    );
    assert_eq!(good.seen().len(), 1);

    let (status, body) = execute(&router, ask("never-valid")).await;
    assert_eq!(status, 422, "{body}");
    let error = &body["error"];
    assert_eq!(error["kind"], "schema_error");
    assert_eq!(error["target"], "bad/m");
    assert_eq!(
        error["attempts"].as_array().unwrap().len(),
        3,
        "one try and two repairs"
    );
    let first = error["attempts"][0]["validation_errors"][0]
        .as_str()
        .unwrap();
    assert!(first.starts_with("the answer is not JSON"), "{first}");
    assert_eq!(bad.seen().len(), 2 + 3);
}

#[tokio::test]
async fn anthropic_is_asked_with_a_forced_tool() {
    let (model, url) = Model::start(vec![Say::Content(VALID)]).await;
    let router = router(
        vec![json!({"name": "a", "kind": "anthropic", "baseUrl": url})],
        json!([{"name": "claude", "targets": [{"backend": "a", "model": "claude-x"}],
                "reasoningEffort": "high"}]),
    )
    .await;
    let (status, body) = execute(
        &router,
        json!({"model_name": "claude", "prompt": "triage",
               "model_params": {"json_schema": triage_schema()}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let content: Value = serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["items"][0]["wsjf"], 4.5);
    assert_eq!(body["usage"]["prompt_tokens"], 20);
    let sent = &model.seen()[0];
    assert_eq!(sent["tools"][0]["name"], "structured_output");
    assert_eq!(sent["tools"][0]["input_schema"], triage_schema());
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "structured_output"})
    );
    assert!(
        sent.get("thinking").is_none(),
        "thinking cannot go with a forced tool"
    );

    // Without a schema, the reasoning effort becomes a thinking budget.
    model.script.lock().unwrap().clear();
    model.script.lock().unwrap().push_back(Say::Content("{}"));
    execute(
        &router,
        json!({"model_name": "claude", "prompt": "hi", "max_tokens": 100}),
    )
    .await;
    let sent = &model.seen()[1];
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 16384})
    );
    assert_eq!(sent["max_tokens"], 16384 + 100);
}

#[tokio::test]
async fn each_failure_has_its_kind() {
    let canary = "sk-canary-0123456789abcdef";
    let (_, hang_url) = Model::start(vec![Say::Hang(Duration::from_secs(30))]).await;
    let (_, err_url) = Model::start(vec![Say::Status(
        400,
        format!(r#"{{"error": {{"message": "Incorrect API key provided: {canary}"}}}}"#),
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, canary).unwrap();
    let mut err_backend = backend("err", &err_url);
    err_backend["apiKey"] = json!({"file": key});
    let router = router(
        vec![
            backend("a", &hang_url),
            backend("hang", &hang_url),
            err_backend,
        ],
        json!([{"name": "slow", "timeout": "300ms", "targets": [{"backend": "hang", "model": "m"}]},
               {"name": "broken", "targets": [{"backend": "err", "model": "m"}]}]),
    )
    .await;
    let ask = |name: &str| json!({"model_name": name, "prompt": "hi"});

    let (status, body) = execute(&router, ask("no-such-profile")).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (404, Some("profile_error")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no-such-profile"));

    let (status, body) = execute(&router, ask("slow")).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );
    let (status, body) = execute(
        &router,
        json!({"model_name": "plain", "prompt": "hi", "timeout": 0.2}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );

    let (status, body) = execute(&router, ask("broken")).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (502, Some("provider_error")),
        "{body}"
    );
    let text = body.to_string();
    assert!(
        text.contains("Incorrect API key provided: <redacted>"),
        "{text}"
    );
    assert!(!text.contains("canary"), "{text}");

    for (request, needle) in [
        (json!({"model_name": "plain"}), "no prompt"),
        (
            json!({"model_name": "plain", "prompt": "x", "temprature": 1}),
            "temprature",
        ),
        (
            json!({"model_name": "plain", "prompt": "x", "model_params": {"json_schema": 5}}),
            "json_schema",
        ),
        (
            json!({"model_name": "plain", "prompt": "x", "model_params": {"reasoning_effort": "max"}}),
            "reasoning_effort",
        ),
        (
            json!({"model_name": "plain", "prompt": "x", "model_params": {"stream": true}}),
            "model_params.stream",
        ),
    ] {
        let (status, body) = execute(&router, request).await;
        assert_eq!(
            (status, body["error"]["kind"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{body}"
        );
    }
}

#[tokio::test]
async fn strict_chat_completions_are_checked_and_repaired() {
    let (model, url) = Model::start(vec![Say::Content(WRONG), Say::Content(VALID)]).await;
    let router = router(vec![backend("a", &url)], json!([])).await;
    let request = json!({"model": "plain", "messages": [{"role": "user", "content": "triage"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": triage_schema()}}});
    let response = client()
        .post(router.chat_url())
        .header("x-hwc-ai-strict-schema", "1")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let content: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["items"][0]["id"], "T-1");
    assert_eq!(model.seen().len(), 2);

    // Not strict: passed through as the model said it.
    let (status, _, text) = router.chat(request.clone()).await;
    assert_eq!(status, 200);
    assert!(text.contains(r#"{\"items\": [{\"id\": \"T-1\""#), "{text}");

    let mut streaming = request.clone();
    streaming["stream"] = json!(true);
    let response = client()
        .post(router.chat_url())
        .header("x-hwc-ai-strict-schema", "1")
        .json(&streaming)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// The route `hwc-ai up` ships and most homelabs use: `*` to the local
/// Ollama with no model named. The upstream must be asked for the model
/// the caller named, on `/execute` and on strict-schema chat alike.
#[tokio::test]
async fn a_pattern_route_passes_the_requested_model_on() {
    let (model, url) = Model::start(vec![Say::Content(VALID)]).await;
    let router = RouterUnderTest::start(json!({
        "backends": [backend("a", &url)],
        "routes": [{"model": "*", "targets": [{"backend": "a"}]}],
    }))
    .await;
    let (status, body) = execute(
        &router,
        json!({"model_name": "tinyllama", "prompt": "triage",
               "model_params": {"json_schema": triage_schema()}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "tinyllama");
    assert_eq!(body["target"], "a/*");
    assert_eq!(model.seen()[0]["model"], "tinyllama");

    let response = client()
        .post(router.chat_url())
        .header("x-hwc-ai-strict-schema", "1")
        .json(&json!({"model": "qwen2.5:0.5b",
            "messages": [{"role": "user", "content": "triage"}],
            "response_format": {"type": "json_schema",
                "json_schema": {"name": "t", "schema": triage_schema()}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(model.seen()[1]["model"], "qwen2.5:0.5b");
}
