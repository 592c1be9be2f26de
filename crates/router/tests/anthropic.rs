//! Backends of kind `anthropic`, against a fake Messages API that follows
//! the documented event sequence.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use support::*;

#[derive(Clone, Copy)]
enum Mode {
    Answer,
    /// As LiteLLM's /v1/messages streams in front of llama.cpp's server:
    /// input tokens only in message_delta's usage, and each piece of one
    /// tool call's input in a tool_use block of its own, all with one id.
    LiteLlm,
    Overloaded,
    BadRequest,
    ErrorMidStream,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

const MESSAGE_START: &str = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#;

/// The documented sequence: message_start, ping, a text block, a tool_use
/// block with its input in two pieces, message_delta, message_stop. One
/// event is split across two chunks.
fn events(error_mid_stream: bool) -> Vec<String> {
    let ev = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
    let mut out = vec![
        ev("message_start", MESSAGE_START),
        ev("ping", r#"{"type":"ping"}"#),
        ev(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        ev(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me "}}"#,
        ),
    ];
    if error_mid_stream {
        out.push(ev(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ));
        return out;
    }
    let split = ev(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"check."}}"#,
    );
    let (a, b) = split.split_at(30);
    out.extend([
        a.to_owned(),
        b.to_owned(),
        ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
        ev("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#),
        ev("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}}"#),
        ev("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}}"#),
        ev("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
        ev("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9}}"#),
        ev("message_stop", r#"{"type":"message_stop"}"#),
    ]);
    out
}

/// The LiteLLM stream: no input tokens at the start, one call in three
/// blocks sharing an id.
fn litellm_events() -> Vec<String> {
    let ev = |data: Value| {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap()
        )
    };
    let mut out = vec![ev(json!({"type": "message_start", "message": {
        "id": "msg_3", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
        "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0}}}))];
    for (index, piece) in ["{\"city\"", ": \"Oslo", "\"}"].into_iter().enumerate() {
        out.push(ev(
            json!({"type": "content_block_start", "index": index, "content_block":
            {"type": "tool_use", "id": "call_0", "name": "get_weather", "input": {}}}),
        ));
        out.push(ev(json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": piece}})));
        out.push(ev(json!({"type": "content_block_stop", "index": index})));
    }
    out.push(ev(
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
        "usage": {"input_tokens": 14, "output_tokens": 9}}),
    ));
    out.push(ev(json!({"type": "message_stop"})));
    out
}

async fn messages(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap();
    fake.seen.lock().unwrap().push((headers, body.clone()));
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::Overloaded => (
            StatusCode::from_u16(529).unwrap(),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
            .into_response(),
        Mode::BadRequest => (
            StatusCode::BAD_REQUEST,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: roles must alternate"}}"#,
        )
            .into_response(),
        _ if body["stream"] == true => {
            let chunks = match mode {
                Mode::LiteLlm => litellm_events(),
                _ => events(matches!(mode, Mode::ErrorMidStream)),
            };
            let stream = futures_util::stream::iter(chunks).then(|c| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok::<_, std::io::Error>(Bytes::from(c))
            });
            let mut response = Response::new(Body::from_stream(stream));
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            response
        }
        _ => axum::Json(json!({
            "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hello."},
                        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Oslo"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 20, "output_tokens": 6}
        }))
        .into_response(),
    }
}

use futures_util::StreamExt;

/// Anthropic's model list: its own key header and version, like messages.
async fn models(headers: HeaderMap) -> Response {
    let keyed = headers.get("x-api-key").is_some_and(|k| k == "sk-ant-test")
        && headers.contains_key("anthropic-version");
    if !keyed {
        return (StatusCode::UNAUTHORIZED, r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#).into_response();
    }
    axum::Json(
        json!({"data": [{"type": "model", "id": "claude-x", "display_name": "Claude X"}],
                      "has_more": false}),
    )
    .into_response()
}

async fn start_fake() -> (Fake, String) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Answer)),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/models", axum::routing::get(models))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}/v1"))
}

async fn router(base: &str, fallback: Option<&str>) -> (RouterUnderTest, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("anthropic.key");
    std::fs::write(&key, "sk-ant-test").unwrap();
    let mut backends = vec![
        json!({"name": "claude", "kind": "anthropic", "baseUrl": base,
                                   "apiKey": {"file": key}}),
    ];
    let mut targets = vec![json!({"backend": "claude", "model": "claude-x"})];
    if let Some(url) = fallback {
        backends.push(backend("ollama", url));
        targets.push(json!({"backend": "ollama", "model": "llama3.2:3b"}));
    }
    let router = RouterUnderTest::start(json!({
        "backends": backends,
        "routes": [{"model": "smart", "targets": targets}]
    }))
    .await;
    (router, dir)
}

fn ask(stream: bool) -> Value {
    json!({"model": "smart", "stream": stream, "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": "get_weather for Oslo"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]})
}

#[tokio::test]
async fn non_streaming_request_and_answer_are_translated() {
    let (fake, base) = start_fake().await;
    let (router, _dir) = router(&base, None).await;
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello.");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_2");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(body["usage"]["prompt_tokens"], 20);

    let seen = fake.seen.lock().unwrap().clone();
    let (headers, sent) = &seen[0];
    assert_eq!(headers["x-api-key"], "sk-ant-test");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert!(!headers.contains_key("authorization"));
    assert_eq!(sent["model"], "claude-x");
    assert_eq!(sent["system"], "be brief");
    assert_eq!(sent["max_tokens"], 4096);
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "get_weather for Oslo"}])
    );
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    router.stop().await;
}

#[tokio::test]
async fn stream_events_become_openai_chunks() {
    let (_fake, base) = start_fake().await;
    let (router, _dir) = router(&base, None).await;
    let (status, headers, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let data = sse_data(&body);
    assert_eq!(data.last().unwrap(), "[DONE]", "{body}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], "msg_1");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Let me check.");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["id"], "toolu_1");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls.iter().all(|c| c["index"] == 0));
    let arguments: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Oslo"})
    );
    let n = chunks.len();
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[n - 1]["choices"], json!([]));
    assert_eq!(chunks[n - 1]["usage"]["prompt_tokens"], 12);
    assert_eq!(chunks[n - 1]["usage"]["completion_tokens"], 9);
    router.stop().await;
}

/// LiteLLM's /v1/messages in front of llama.cpp's server: the prompt's
/// tokens arrive only in message_delta, and one tool call comes as several
/// tool_use blocks with the same id. The client must still see one call
/// and the real prompt size.
#[tokio::test]
async fn stream_with_late_input_tokens_and_a_tool_call_in_pieces() {
    let (fake, base) = start_fake().await;
    *fake.mode.lock().unwrap() = Mode::LiteLlm;
    let (router, _dir) = router(&base, None).await;
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200, "{body}");
    let data = sse_data(&body);
    assert_eq!(data.last().unwrap(), "[DONE]", "{body}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert!(calls.iter().all(|c| c["index"] == 0), "{body}");
    let named: Vec<_> = calls.iter().filter(|c| c["id"].is_string()).collect();
    assert_eq!(named.len(), 1, "one call starts: {body}");
    assert_eq!(named[0]["function"]["name"], "get_weather");
    let arguments: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Oslo"})
    );
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 14, "{body}");
    assert_eq!(usage["completion_tokens"], 9);
    assert_eq!(usage["total_tokens"], 23);
    router.stop().await;
}

#[tokio::test]
async fn errors_fallback_and_mid_stream_failure() {
    let (fake, base) = start_fake().await;
    let ollama = ollama().await;
    let (router, _dir) = router(&base, Some(&format!("{}/v1", ollama.url()))).await;

    // 529 overloaded before the first byte: the next target answers.
    *fake.mode.lock().unwrap() = Mode::Overloaded;
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("fp_ollama"), "{body}");

    // A 400 is the client's: passed on in OpenAI's shape.
    *fake.mode.lock().unwrap() = Mode::BadRequest;
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["message"], "messages: roles must alternate");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // An error event after the first byte: an OpenAI error event, no [DONE].
    *fake.mode.lock().unwrap() = Mode::ErrorMidStream;
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200);
    let data = sse_data(&body);
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "overloaded_error", "{body}");
    assert!(!body.contains("[DONE]"), "{body}");
    assert_eq!(body.matches("\"error\"").count(), 1, "{body}");

    // Embeddings do not exist there: the next target is asked (and its
    // chat model answers that it does not embed).
    let response = client()
        .post(format!("{}/v1/embeddings", router.url))
        .json(&json!({"model": "smart", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(ollama.calls().embeddings(), 1);
    router.stop().await;
}

#[tokio::test]
async fn models_are_listed_with_anthropics_own_headers() {
    let (_fake, base) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("anthropic.key");
    std::fs::write(&key, "sk-ant-test").unwrap();
    let router = RouterUnderTest::start(json!({
        "backends": [{"name": "claude", "kind": "anthropic", "baseUrl": base,
                      "apiKey": {"file": key}, "listModels": true}],
        "routes": [{"model": "claude-*", "targets": [{"backend": "claude"}]}]
    }))
    .await;
    let (status, body) = router.get("/v1/models").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""id":"claude-x""#), "{body}");
}
