//! Ollama's native endpoints other than pull, as the reference describes
//! them.

mod common;

use std::time::Duration;

use common::{get, post, small_fake, stream};
use hwc_ai_ollama_fake::{Failure, Fault, Faults, InferenceFault};
use serde_json::{json, Value};

fn is_hex64(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test]
async fn version_root_and_unknown_routes() {
    let fake = small_fake();
    fake.set_version("0.13.0");
    let server = fake.spawn().await.unwrap();
    let (code, body) = get(&format!("{}/api/version", server.url())).await;
    assert_eq!((code, body), (200, json!({"version": "0.13.0"})));
    let (code, body) = get(&format!("{}/", server.url())).await;
    assert_eq!((code, body), (200, json!("Ollama is running")));
    let (code, _) = get(&format!("{}/api/nothing", server.url())).await;
    assert_eq!(code, 404);
    let (code, _) = get(&format!("{}/api/pull", server.url())).await;
    assert_eq!(code, 404, "wrong method: gin answers 404");
}

#[tokio::test]
async fn tags_shape() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    let (code, body) = get(&format!("{}/api/tags", server.url())).await;
    assert_eq!((code, body), (200, json!({"models": []})));

    fake.install("llama3.2:3b").unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    fake.install("someone/custom:q4").unwrap();
    let (_, body) = get(&format!("{}/api/tags", server.url())).await;
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    // Most recently modified first.
    assert_eq!(models[0]["name"], "someone/custom:q4");
    let m = &models[1];
    assert_eq!(m["name"], "llama3.2:3b");
    assert_eq!(m["model"], "llama3.2:3b");
    assert!(is_hex64(&m["digest"]), "{}", m["digest"]);
    assert!(m["size"].as_u64().unwrap() > 4000);
    assert!(humantime::parse_rfc3339(m["modified_at"].as_str().unwrap()).is_ok());
    assert_eq!(
        m["details"],
        json!({
            "parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
            "parameter_size": "3.2B", "quantization_level": "Q4_K_M"
        })
    );
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
}

#[tokio::test]
async fn show_reports_details_and_capabilities() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    let url = format!("{}/api/show", server.url());
    let (code, body) = post(&url, json!({"model": "llama3.2:3b"})).await;
    assert_eq!(
        (code, body),
        (404, json!({"error": "model 'llama3.2:3b' not found"}))
    );

    fake.install("llama3.2:3b").unwrap();
    fake.install("nomic-embed-text").unwrap();
    let (code, body) = post(&url, json!({"model": "llama3.2:3b"})).await;
    assert_eq!(code, 200);
    assert_eq!(body["capabilities"], json!(["completion", "tools"]));
    assert_eq!(body["model_info"]["llama.context_length"], 131_072);
    assert_eq!(body["model_info"]["general.architecture"], "llama");
    assert_eq!(body["details"]["parameter_size"], "3.2B");
    assert!(body["modelfile"].as_str().unwrap().contains("FROM "));
    assert!(body["template"].as_str().unwrap().contains("{{ .Prompt }}"));
    assert!(body["parameters"].is_string());

    // Older clients send "name".
    let (code, body) = post(&url, json!({"name": "nomic-embed-text"})).await;
    assert_eq!(code, 200);
    assert_eq!(body["capabilities"], json!(["embedding"]));
    assert_eq!(body["model_info"]["nomic-bert.context_length"], 2048);
}

#[tokio::test]
async fn delete_then_404() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("tinyllama").unwrap();
    let url = format!("{}/api/delete", server.url());
    let resp = common::client()
        .delete(&url)
        .json(&json!({"model": "tinyllama"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().is_empty());
    assert!(fake.installed().is_empty());
    let resp = common::client()
        .delete(&url)
        .json(&json!({"model": "tinyllama"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": "model 'tinyllama' not found"})
    );
}

#[tokio::test]
async fn generate_non_streaming_honours_num_predict() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    let url = format!("{}/api/generate", server.url());
    let (code, body) = post(
        &url,
        json!({"model": "llama3.2", "prompt": "hi", "stream": false}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"error": "model \"llama3.2\" not found, try pulling it first"})
        )
    );

    fake.install("llama3.2:3b").unwrap();
    let (code, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "prompt": "why is the sky blue", "stream": false,
               "options": {"num_predict": 1}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(body["model"], "llama3.2:3b");
    assert_eq!(body["response"], "echo:");
    assert_eq!(body["done"], true);
    assert_eq!(body["done_reason"], "length");
    assert_eq!(body["eval_count"], 1);
    assert_eq!(body["prompt_eval_count"], 5);
    for k in [
        "created_at",
        "context",
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(body.get(k).is_some(), "{k} missing: {body}");
    }

    let (_, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "prompt": "why is the sky blue", "stream": false}),
    )
    .await;
    assert_eq!(body["response"], "echo: why is the sky blue");
    assert_eq!(body["done_reason"], "stop");
    assert_eq!(body["eval_count"], 6);
}

#[tokio::test]
async fn generate_streams_token_lines_then_stats() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    let s = stream(
        &format!("{}/api/generate", server.url()),
        json!({"model": "llama3.2:3b", "prompt": "the sky"}),
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.content_type, "application/x-ndjson");
    let lines = s.json();
    let words: Vec<&str> = lines[..lines.len() - 1]
        .iter()
        .map(|l| {
            assert_eq!(l["done"], false);
            l["response"].as_str().unwrap()
        })
        .collect();
    assert_eq!(words, ["echo:", " the", " sky"]);
    let last = lines.last().unwrap();
    assert_eq!(last["response"], "");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["eval_count"], 3);
}

#[tokio::test]
async fn empty_prompt_loads_and_keep_alive_zero_unloads() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("tinyllama").unwrap();
    let url = format!("{}/api/generate", server.url());
    let (code, body) = post(&url, json!({"model": "tinyllama"})).await;
    assert_eq!(code, 200);
    assert_eq!(body["done"], true);
    assert_eq!(body["response"], "");
    let (_, ps) = get(&format!("{}/api/ps", server.url())).await;
    let models = ps["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["name"], "tinyllama:latest");
    assert!(is_hex64(&models[0]["digest"]));
    assert!(models[0]["expires_at"].is_string());
    assert!(models[0]["size_vram"].as_u64().unwrap() > 0);
    assert_eq!(fake.loaded(), ["tinyllama:latest"]);

    let (code, body) = post(&url, json!({"model": "tinyllama", "keep_alive": 0})).await;
    assert_eq!(code, 200);
    assert_eq!(body["done_reason"], "unload");
    assert_eq!(body["done"], true);
    let (_, ps) = get(&format!("{}/api/ps", server.url())).await;
    assert_eq!(ps, json!({"models": []}));
}

#[tokio::test]
async fn embedding_models_cannot_generate_and_completion_models_cannot_embed() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("nomic-embed-text").unwrap();
    fake.install("tinyllama").unwrap();
    let (code, body) = post(
        &format!("{}/api/generate", server.url()),
        json!({"model": "nomic-embed-text", "prompt": "hi"}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            400,
            json!({"error": "\"nomic-embed-text\" does not support generate"})
        )
    );
    let (code, body) = post(
        &format!("{}/api/embed", server.url()),
        json!({"model": "tinyllama", "input": "hi"}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            400,
            json!({"error": "\"tinyllama\" does not support embeddings"})
        )
    );
}

#[tokio::test]
async fn embed_strings_and_lists() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    let url = format!("{}/api/embed", server.url());
    let (code, body) = post(&url, json!({"model": "nomic-embed-text", "input": "hi"})).await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        json!({"error": "model \"nomic-embed-text\" not found, try pulling it first"})
    );

    fake.install("nomic-embed-text").unwrap();
    let (code, one) = post(&url, json!({"model": "nomic-embed-text", "input": "hello"})).await;
    assert_eq!(code, 200);
    assert_eq!(one["model"], "nomic-embed-text");
    let vectors = one["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 1);
    assert_eq!(vectors[0].as_array().unwrap().len(), 768);

    let (_, two) = post(
        &url,
        json!({"model": "nomic-embed-text", "input": ["hello", "world"], "dimensions": 8}),
    )
    .await;
    let vectors = two["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].as_array().unwrap().len(), 8);
    assert_ne!(vectors[0], vectors[1]);

    let (code, body) = post(&url, json!({"model": "nomic-embed-text", "input": 5})).await;
    assert_eq!((code, body), (400, json!({"error": "invalid input type"})));
    let (_, legacy) = post(
        &format!("{}/api/embeddings", server.url()),
        json!({"model": "nomic-embed-text", "prompt": "hello"}),
    )
    .await;
    assert_eq!(legacy["embedding"], one["embeddings"][0], "deterministic");
}

#[tokio::test]
async fn chat_answers_and_calls_named_tools() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("llama3.2:3b").unwrap();
    fake.install("tinyllama").unwrap();
    let url = format!("{}/api/chat", server.url());
    let (code, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "stream": false,
               "messages": [{"role": "user", "content": "hello there"}]}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        body["message"],
        json!({"role": "assistant", "content": "echo: hello there"})
    );
    assert_eq!(body["done_reason"], "stop");

    let tools = json!([{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}]);
    let (_, body) = post(
        &url,
        json!({"model": "llama3.2:3b", "stream": false, "tools": tools,
               "messages": [{"role": "user", "content": "get_weather Paris"}]}),
    )
    .await;
    let call = &body["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["function"]["arguments"],
        json!({"city": "get_weather Paris"})
    );
    assert!(call["id"].as_str().unwrap().starts_with("call_"));

    let (code, body) = post(
        &url,
        json!({"model": "tinyllama", "tools": tools,
               "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            400,
            json!({"error": "registry.ollama.ai/library/tinyllama:latest does not support tools"})
        )
    );

    let s = stream(
        &url,
        json!({"model": "llama3.2:3b", "messages": [{"role": "user", "content": "a b"}]}),
    )
    .await;
    let lines = s.json();
    let text: String = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "echo: a b");
    assert_eq!(lines.last().unwrap()["done"], true);
}

#[tokio::test]
async fn generation_faults() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("tinyllama").unwrap();
    fake.install("nomic-embed-text").unwrap();
    let url = format!("{}/api/generate", server.url());

    fake.set_faults(
        "tinyllama",
        Faults::none().with_generate(Fault::once(InferenceFault::Reject(Failure::new(
            500,
            "llama runner process has terminated: exit status 2",
        )))),
    )
    .unwrap();
    let (code, body) = post(
        &url,
        json!({"model": "tinyllama", "prompt": "hi", "stream": false}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            500,
            json!({"error": "llama runner process has terminated: exit status 2"})
        )
    );
    let (code, _) = post(
        &url,
        json!({"model": "tinyllama", "prompt": "hi", "stream": false}),
    )
    .await;
    assert_eq!(code, 200, "once only");

    fake.set_faults(
        "tinyllama",
        Faults::none().with_generate(Fault::always(InferenceFault::ErrorAfter {
            chunks: 2,
            message: "boom".into(),
        })),
    )
    .unwrap();
    let s = stream(
        &url,
        json!({"model": "tinyllama", "prompt": "one two three"}),
    )
    .await;
    assert_eq!(s.status, 200);
    let lines = s.json();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], json!({"error": "boom"}));

    fake.set_faults(
        "tinyllama",
        Faults::none().with_generate(Fault::always(InferenceFault::DropAfter { chunks: 1 })),
    )
    .unwrap();
    let s = stream(
        &url,
        json!({"model": "tinyllama", "prompt": "one two three"}),
    )
    .await;
    assert!(s.cut);
    assert_eq!(s.lines.len(), 1);

    fake.set_global_faults(
        Faults::none().with_embed(Fault::once(Failure::new(500, "embed failed"))),
    );
    let (code, body) = post(
        &format!("{}/api/embed", server.url()),
        json!({"model": "nomic-embed-text", "input": "x"}),
    )
    .await;
    assert_eq!((code, body), (500, json!({"error": "embed failed"})));
}

#[tokio::test]
async fn calls_are_counted_per_endpoint() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    get(&format!("{}/api/tags", server.url())).await;
    get(&format!("{}/api/version", server.url())).await;
    get(&format!("{}/api/version", server.url())).await;
    let calls = fake.calls();
    assert_eq!(calls.tags(), 1);
    assert_eq!(calls.version(), 2);
    assert_eq!(calls.pull() + calls.show() + calls.generate(), 0);
    assert_eq!(calls.total(), 3);
    assert_eq!(calls.get("/api/tags"), 1);

    post(
        &format!("{}/api/generate", server.url()),
        json!({"model": "x", "prompt": "p"}),
    )
    .await;
    let requests = fake.requests();
    assert_eq!(requests.last().unwrap().path, "/api/generate");
    assert_eq!(
        requests.last().unwrap().body.as_ref().unwrap()["prompt"],
        "p"
    );

    fake.reset_calls();
    assert_eq!(fake.calls().total(), 0);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn global_delay_holds_every_answer() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.set_global_faults(Faults::none().with_delay(Duration::from_millis(120)));
    let started = std::time::Instant::now();
    get(&format!("{}/api/version", server.url())).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    fake.clear_faults();
    let started = std::time::Instant::now();
    get(&format!("{}/api/version", server.url())).await;
    assert!(started.elapsed() < Duration::from_millis(120));
}
