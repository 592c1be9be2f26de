//! Chat completions, embeddings and models through the router, against the
//! fake Ollama and scripted upstreams on loopback.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn one_route(model: &str, targets: Value, backends: Value) -> Value {
    json!({"backends": backends, "routes": [{"model": model, "targets": targets}]})
}

#[tokio::test]
async fn chat_non_streaming_passes_the_answer_through() {
    let ollama = ollama().await;
    let router = RouterUnderTest::start(one_route(
        "local-fast",
        json!([{"backend": "ollama", "model": "llama3.2:3b"}]),
        json!([backend("ollama", &format!("{}/v1", ollama.url()))]),
    ))
    .await;
    let (status, headers, body) = router
        .chat(json!({"model": "local-fast", "messages": [{"role": "user", "content": "hello there"}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(
        body["model"], "llama3.2:3b",
        "the upstream's answer, untouched"
    );
    assert_eq!(body["system_fingerprint"], "fp_ollama");
    let overhead: f64 = headers["x-hwc-ai-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..1000.0).contains(&overhead), "{overhead}");
    assert!(headers.contains_key("x-request-id"));
    // The upstream was asked for its own model name.
    let sent = ollama.requests();
    let last = sent.last().unwrap();
    assert_eq!(last.body.as_ref().unwrap()["model"], "llama3.2:3b");

    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_requests_total{route=\"local-fast\",target=\"ollama/llama3.2:3b\",status=\"200\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_tokens_total{route=\"local-fast\",target=\"ollama/llama3.2:3b\",direction=\"completion\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("hwc_ai_router_overhead_seconds_bucket"),
        "{metrics}"
    );
    router.stop().await;
}

#[tokio::test]
async fn stream_bytes_are_forwarded_unchanged() {
    let chunks = vec![
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}],\"x_vendor\":{\"kept\":true}}\n\n".to_owned(),
        // One event split across two chunks.
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",".to_owned(),
        "\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]}}]}\n\n".to_owned(),
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n".to_owned(),
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":5,\"total_tokens\":12}}\n\n".to_owned(),
        "data: [DONE]\n\n".to_owned(),
    ];
    let upstream = Scripted::start(Reply::Sse {
        chunks: chunks.clone(),
        gap: Duration::from_millis(5),
        cut: false,
    })
    .await;
    let router = RouterUnderTest::start(one_route(
        "scripted",
        json!([{"backend": "up"}]),
        json!([backend("up", &upstream.base_url())]),
    ))
    .await;
    let (status, headers, body) = router
        .chat(json!({"model": "scripted", "stream": true, "messages": []}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(body, chunks.concat(), "byte for byte");
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_tokens_total{route=\"scripted\",target=\"up/*\",direction=\"prompt\"}"
        ),
        Some(7.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "hwc_ai_router_time_to_first_chunk_seconds_count{route=\"scripted\",target=\"up/*\"} 1"
        ),
        "{metrics}"
    );
    router.stop().await;
}

#[tokio::test]
async fn stream_from_ollama_keeps_tool_call_index_and_usage() {
    let ollama = ollama().await;
    let router = RouterUnderTest::start(one_route(
        "llama*",
        json!([{"backend": "ollama"}]),
        json!([backend("ollama", &format!("{}/v1", ollama.url()))]),
    ))
    .await;
    let tool = json!({"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}});
    let (status, _, body) = router
        .chat(json!({"model": "llama3.2:3b", "stream": true,
            "stream_options": {"include_usage": true}, "tools": [tool],
            "messages": [{"role": "user", "content": "get_weather please"}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let data = sse_data(&body);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let call = chunks
        .iter()
        .find_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]
                .as_object()
                .cloned()
        })
        .expect("a tool call delta");
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "get_weather");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert!(chunks.last().unwrap()["usage"]["completion_tokens"].is_u64());
    router.stop().await;
}

#[tokio::test]
async fn embeddings_and_models() {
    let ollama = ollama().await;
    let base = format!("{}/v1", ollama.url());
    let router = RouterUnderTest::start(json!({
        "backends": [backend("ollama", &base)],
        "routes": [
            {"model": "embed", "targets": [{"backend": "ollama", "model": "nomic-embed-text"}]},
            {"model": "local-fast", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]},
            {"model": "gpt-*", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]}
        ]
    }))
    .await;
    let response = client()
        .post(format!("{}/v1/embeddings", router.url))
        .json(&json!({"model": "embed", "input": ["a", "b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);

    let (status, models) = router.get("/v1/models").await;
    assert_eq!(status, 200);
    let models: Value = serde_json::from_str(&models).unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["embed", "local-fast"], "globs are not names");
    assert_eq!(models["data"][0]["object"], "model");
    let (status, one) = router.get("/v1/models/local-fast").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&one).unwrap()["id"],
        "local-fast"
    );
    assert_eq!(router.get("/v1/models/gpt-*").await.0, 404);

    // A glob routes the name it matches.
    let (status, _, _) = router
        .chat(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(status, 200);

    let health = router.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["leavesHost"], false);
    assert_eq!(health["targets"][0]["local"], true);
    router.stop().await;
}

#[tokio::test]
async fn request_errors_are_openai_shaped() {
    let ollama = ollama().await;
    let mut config = one_route(
        "local-fast",
        json!([{"backend": "ollama", "model": "llama3.2:3b"}]),
        json!([backend("ollama", &format!("{}/v1", ollama.url()))]),
    );
    config["maxBodyBytes"] = json!(1024);
    let router = RouterUnderTest::start(config).await;

    let (status, _, body) = router.chat(json!({"model": "nope", "messages": []})).await;
    assert_eq!(status, 404);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));

    let big = "x".repeat(4096);
    let (status, _, body) = router
        .chat(json!({"model": "local-fast", "messages": [{"role": "user", "content": big}]}))
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("request_too_large"));

    // Chunked, without a Content-Length to refuse early.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let response = client()
        .post(router.chat_url())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let response = client()
        .post(router.chat_url())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (status, _, _) = router.chat(json!({"messages": []})).await;
    assert_eq!(status, 400);
    // Ollama's own 4xx is the client's answer, passed on.
    let (status, _, body) = router
        .chat(json!({"model": "local-fast", "messages": "not a list"}))
        .await;
    assert_eq!(status, 400, "{body}");
    router.stop().await;
}

#[tokio::test]
async fn client_keys_and_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("bot.key");
    std::fs::write(&key, "bot-key-1\n").unwrap();
    let ollama = ollama().await;
    let mut config = one_route(
        "local-fast",
        json!([{"backend": "ollama", "model": "llama3.2:3b"}]),
        json!([backend("ollama", &format!("{}/v1", ollama.url()))]),
    );
    config["clients"] = json!({"keys": [{"name": "bot", "key": {"file": key}}],
                               "allowUnauthenticatedLoopback": false});
    let router = RouterUnderTest::start(config.clone()).await;
    let body = json!({"model": "local-fast", "messages": [{"role": "user", "content": "hi"}]});
    let send = |key: Option<&'static str>| {
        let mut request = client().post(router.chat_url()).json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(None).await, 401);
    assert_eq!(send(Some("bot-key-2")).await, 401);
    assert_eq!(send(Some("bot-key-1")).await, 200);
    let (status, _) = router.get("/v1/models").await;
    assert_eq!(status, 401);
    router.stop().await;

    config["clients"]["allowUnauthenticatedLoopback"] = json!(true);
    let router = RouterUnderTest::start(config).await;
    let send = |key: Option<&'static str>| {
        let mut request = client().post(router.chat_url()).json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(None).await, 200);
    assert_eq!(send(Some("sk-placeholder")).await, 200);
    router.stop().await;
}

#[tokio::test]
async fn large_prompts_skip_small_context_targets() {
    let ollama = ollama().await;
    let small = Scripted::start(Reply::Status(
        200,
        r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"small"}}]}"#,
    ))
    .await;
    let router = RouterUnderTest::start(json!({
        "backends": [backend("small", &small.base_url()),
                     backend("ollama", &format!("{}/v1", ollama.url()))],
        "routes": [
            {"model": "chat", "targets": [
                {"backend": "small", "model": "m", "maxPromptTokens": 100},
                {"backend": "ollama", "model": "llama3.2:3b"}]},
            {"model": "tiny", "targets": [{"backend": "small", "model": "m", "maxPromptTokens": 100}]}
        ]
    }))
    .await;
    let ask = |model: &str, words: usize| json!({"model": model, "messages": [{"role": "user", "content": "word ".repeat(words)}]});
    let (_, _, body) = router.chat(ask("chat", 10)).await;
    assert!(body.contains("\"small\""), "{body}");
    let (status, _, body) = router.chat(ask("chat", 200)).await;
    assert_eq!(status, 200);
    assert!(body.contains("echo: word"), "the larger target: {body}");
    assert_eq!(small.hits(), 1);
    let (status, _, body) = router.chat(ask("tiny", 200)).await;
    assert_eq!(status, 400);
    assert!(body.contains("context_length_exceeded"), "{body}");
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_fallbacks_total{route=\"chat\",target=\"small/m\",reason=\"prompt_too_large\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        router.circuit("small/m").await,
        "closed",
        "size is not a failure"
    );
    router.stop().await;
}

#[tokio::test]
async fn models_lists_what_a_glob_route_reaches_on_a_listing_backend() {
    let ollama = ollama().await;
    let router = RouterUnderTest::start(json!({
        "backends": [
            {"name": "ollama", "kind": "openai-compatible",
             "baseUrl": format!("{}/v1", ollama.url()), "listModels": true},
            {"name": "down", "kind": "openai-compatible",
             "baseUrl": refused_base_url(), "listModels": true}
        ],
        "routes": [
            {"model": "local-fast", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]},
            {"model": "llama*", "targets": [{"backend": "ollama"}]},
            {"model": "nomic*", "targets": [{"backend": "down"}]}
        ]
    }))
    .await;
    let (status, models) = router.get("/v1/models").await;
    assert_eq!(status, 200, "{models}");
    let models: Value = serde_json::from_str(&models).unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    // nomic-embed-text is on ollama, but its glob sends it elsewhere.
    assert_eq!(ids, ["local-fast", "llama3.2:3b"]);
    router.stop().await;
}

#[tokio::test]
async fn health_says_which_routes_can_leave_the_host() {
    let ollama = ollama().await;
    let router = RouterUnderTest::start(json!({
        "backends": [
            backend("ollama", &format!("{}/v1", ollama.url())),
            // TEST-NET-1: never reached by this test.
            {"name": "cloud", "kind": "openai-compatible", "baseUrl": "https://192.0.2.1/v1",
             "remote": true}
        ],
        "routes": [
            {"model": "local-fast", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]},
            {"model": "smart", "targets": [{"backend": "ollama", "model": "llama3.2:3b"},
                                           {"backend": "cloud", "model": "gpt-4o-mini"}]}
        ]
    }))
    .await;
    let health = router.health().await;
    assert_eq!(health["leavesHost"], true, "{health}");
    assert_eq!(health["routes"][0]["leavesHost"], false, "{health}");
    assert_eq!(health["routes"][1]["leavesHost"], true, "{health}");
    let cloud = health["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "cloud/gpt-4o-mini")
        .unwrap();
    assert_eq!(cloud["local"], false);
    router.stop().await;
}
