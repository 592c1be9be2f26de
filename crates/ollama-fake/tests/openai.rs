//! The OpenAI-compatible endpoints on the same port.

mod common;

use common::{get, post, small_fake, stream};
use hwc_ai_ollama_fake::{Fault, Faults, InferenceFault};
use serde_json::{json, Value};

#[tokio::test]
async fn models_lists_installed_models() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    fake.install("someone/custom:q4").unwrap();
    let (code, body) = get(&format!("{}/v1/models", server.url())).await;
    assert_eq!(code, 200);
    assert_eq!(body["object"], "list");
    let mut data = body["data"].as_array().unwrap().clone();
    data.sort_by_key(|m| m["id"].as_str().unwrap().to_owned());
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["id"], "llama3.2:3b");
    assert_eq!(data[0]["object"], "model");
    assert_eq!(data[0]["owned_by"], "library");
    assert!(data[0]["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(data[1]["owned_by"], "someone");

    let (code, one) = get(&format!("{}/v1/models/someone/custom:q4", server.url())).await;
    assert_eq!((code, &one["id"]), (200, &json!("someone/custom:q4")));
    let (code, err) = get(&format!("{}/v1/models/nope", server.url())).await;
    assert_eq!(code, 404);
    assert_eq!(err["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn chat_completion_shape() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    let url = format!("{}/v1/chat/completions", server.url());
    let (code, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello world"}]}
        ]}),
    )
    .await;
    assert_eq!(code, 200);
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "llama3.2:3b");
    assert_eq!(body["system_fingerprint"], "fp_ollama");
    assert!(body["created"].is_u64());
    assert_eq!(
        body["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "echo: hello world"},
                "finish_reason": "stop"}])
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5})
    );

    let (_, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "max_tokens": 2,
               "messages": [{"role": "user", "content": "a b c d"}]}),
    )
    .await;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: a");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
}

fn parse_chunks(data: &[String]) -> Vec<Value> {
    data.iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn chat_completion_sse_with_usage() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    let url = format!("{}/v1/chat/completions", server.url());
    let s = stream(
        &url,
        json!({"model": "llama3.2:3b", "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "user", "content": "one two"}]}),
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.content_type, "text/event-stream");
    let data = s.sse_data();
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks = parse_chunks(&data);
    let id = &chunks[0]["id"];
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(&c["id"], id);
        assert_eq!(c["created"], chunks[0]["created"]);
        assert_eq!(c["system_fingerprint"], "fp_ollama");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: one two");
    let n = chunks.len();
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[n - 2]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[n - 1]["choices"], json!([]));
    assert_eq!(chunks[n - 1]["usage"]["completion_tokens"], 3);
    assert!(chunks[..n - 1].iter().all(|c| c.get("usage").is_none()));

    // Without include_usage there is no usage chunk.
    let s = stream(
        &url,
        json!({"model": "llama3.2:3b", "stream": true,
               "messages": [{"role": "user", "content": "one"}]}),
    )
    .await;
    let chunks = parse_chunks(&s.sse_data());
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[tokio::test]
async fn tool_calls_finish_with_tool_calls() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    let url = format!("{}/v1/chat/completions", server.url());
    let tools = json!([
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object",
            "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q"]}}},
        {"type": "function", "function": {"name": "unused"}}
    ]);
    let ask = json!([{"role": "user", "content": "please lookup cats"}]);
    let (_, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "tools": tools, "messages": ask}),
    )
    .await;
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "lookup");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"q": "please lookup cats"}));

    let s = stream(
        &url,
        json!({"model": "llama3.2:3b", "tools": tools, "messages": ask, "stream": true}),
    )
    .await;
    let chunks = parse_chunks(&s.sse_data());
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["tool_calls"][0]["index"],
        0
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    // After the tool's result the model answers in text.
    let (_, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "tools": tools, "messages": [
            {"role": "user", "content": "please lookup cats"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "cats are mammals"}
        ]}),
    )
    .await;
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: cats are mammals"
    );
}

#[tokio::test]
async fn errors_have_the_openai_shape() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("nomic-embed-text").unwrap();
    let url = format!("{}/v1/chat/completions", server.url());
    let (code, body) = post(&url, json!({"model": "nope", "messages": []})).await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        json!({"error": {"message": "model \"nope\" not found, try pulling it first",
                         "type": "not_found_error", "param": null, "code": null}})
    );
    let (code, body) = post(
        &url,
        json!({"model": "nomic-embed-text", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        body["error"]["message"],
        "\"nomic-embed-text\" does not support chat"
    );

    let resp = common::client()
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn failure_mid_stream_is_an_error_event_without_done() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    fake.set_faults(
        "llama3.2:3b",
        Faults::none().with_generate(Fault::once(InferenceFault::ErrorAfter {
            chunks: 1,
            message: "runner died".into(),
        })),
    )
    .unwrap();
    let url = format!("{}/v1/chat/completions", server.url());
    let s = stream(
        &url,
        json!({"model": "llama3.2:3b", "stream": true, "messages": [{"role": "user", "content": "a b c"}]}),
    )
    .await;
    assert_eq!(s.status, 200);
    let data = s.sse_data();
    assert_eq!(data.len(), 2);
    let err: Value = serde_json::from_str(&data[1]).unwrap();
    assert_eq!(err["error"]["message"], "runner died");
    assert_eq!(err["error"]["type"], "api_error");
    assert!(!data.contains(&"[DONE]".to_owned()));

    fake.set_faults(
        "llama3.2:3b",
        Faults::none().with_generate(Fault::once(InferenceFault::DropAfter { chunks: 2 })),
    )
    .unwrap();
    let s = stream(
        &url,
        json!({"model": "llama3.2:3b", "stream": true, "messages": [{"role": "user", "content": "a b c"}]}),
    )
    .await;
    assert!(s.cut);
    assert_eq!(s.sse_data().len(), 2);
}

#[tokio::test]
async fn json_schema_response_format() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    let (_, body) = post(
        &format!("{}/v1/chat/completions", server.url()),
        json!({"model": "llama3.2:3b",
               "messages": [{"role": "user", "content": "triage"}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "t", "strict": true,
                   "schema": {"type": "object", "properties": {
                       "severity": {"enum": ["low", "high"]}, "summary": {"type": "string"}},
                       "required": ["severity", "summary"]}}}}),
    )
    .await;
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    let doc: Value = serde_json::from_str(content).unwrap();
    assert_eq!(doc, json!({"severity": "low", "summary": "triage"}));
}

#[tokio::test]
async fn embeddings_list() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("nomic-embed-text").unwrap();
    fake.install("tinyllama").unwrap();
    let url = format!("{}/v1/embeddings", server.url());
    let (code, body) = post(
        &url,
        json!({"model": "nomic-embed-text", "input": ["a", "b c"]}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "nomic-embed-text");
    assert_eq!(body["data"][1]["object"], "embedding");
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 768);
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );

    let (code, body) = post(&url, json!({"model": "nomic-embed-text", "input": ""})).await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let (code, _) = post(&url, json!({"model": "tinyllama", "input": "x"})).await;
    assert_eq!(code, 400);
    assert_eq!(fake.calls().embeddings(), 3);
}
