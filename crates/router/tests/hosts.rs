//! Several Ollama hosts behind one router: model discovery, balancing
//! within a tier, sticky conversations, queue bounds and a host that dies,
//! against fake Ollamas on loopback.

mod support;

use std::time::Duration;

use hwc_ai_ollama_fake::{FakeOllama, Faults, Server};
use serde_json::{json, Value};
use support::*;

/// A fake Ollama with these models installed (none loaded).
async fn host(models: &[&str]) -> Server {
    let fake = FakeOllama::builtin();
    for m in models {
        fake.install_model(hwc_ai_ollama_fake::CatalogModel::new(m));
    }
    fake.spawn().await.unwrap()
}

fn discovering(name: &str, server: &Server) -> Value {
    let mut b = backend(name, &format!("{}/v1", server.url()));
    b["discover"] = json!(true);
    b
}

fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Loads `model` on `server`, as an earlier client would have.
async fn load(server: &Server, model: &str) {
    let loaded = client()
        .post(format!("{}/api/generate", server.url()))
        .json(&json!({"model": model, "prompt": ""}))
        .send()
        .await
        .unwrap();
    assert!(loaded.status().is_success());
}

/// Waits until the router has listed every discovering backend once.
async fn listed(router: &RouterUnderTest) {
    for _ in 0..100 {
        let health = router.health().await;
        let backends = health["backends"].as_array().unwrap();
        if backends
            .iter()
            .all(|b| b.get("models").is_none() || !b["models"]["listedAt"].is_null())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the backends were never listed");
}

fn chat_calls(server: &Server) -> u64 {
    server.fake().calls().get("/v1/chat/completions")
}

#[tokio::test]
async fn a_model_only_one_host_has_is_answered_by_that_host() {
    let a = host(&["llama3.2:3b"]).await;
    let b = host(&["llama3.2:3b", "qwen3:8b"]).await;
    let c = host(&["llama3.2:3b"]).await;
    let router = RouterUnderTest::start(json!({
        "backends": [discovering("a", &a), discovering("b", &b), discovering("c", &c)],
        "routes": [{"model": "*", "targets": [{"backends": ["a", "b", "c"]}]}]
    }))
    .await;
    listed(&router).await;
    let (status, _, body) = router.chat(ask("qwen3:8b", "hi")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (chat_calls(&a), chat_calls(&b), chat_calls(&c)),
        (0, 1, 0),
        "only the host that has the model is asked"
    );
    // The union of the hosts' models, each once.
    let (_, models) = router.get("/v1/models").await;
    let models: Value = serde_json::from_str(&models).unwrap();
    let mut ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["llama3.2:3b", "qwen3:8b"]);
    // Which host has what, and what it has loaded now.
    let health = router.health().await;
    let b_entry = &health["backends"][1];
    assert_eq!(b_entry["name"], "b");
    assert_eq!(
        b_entry["models"]["installed"],
        json!(["llama3.2:3b", "qwen3:8b"])
    );
    assert_eq!(b_entry["models"]["loaded"], json!(["qwen3:8b"]));
    assert_eq!(
        health["backends"][0]["models"]["installed"],
        json!(["llama3.2:3b"])
    );
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_skipped_total{route=\"*\",target=\"a/*\",reason=\"model_missing\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_backend_models_installed{backend=\"b\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    // Nobody has it: 404, not a failure of any host.
    let (status, _, body) = router.chat(ask("nope:1b", "hi")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(router.circuit("a/*").await, "closed");
    router.stop().await;
}

#[tokio::test]
async fn a_model_pulled_after_the_last_listing_is_still_found() {
    let a = host(&["llama3.2:3b"]).await;
    let b = host(&["llama3.2:3b"]).await;
    let router = RouterUnderTest::start(json!({
        "defaults": {"discoverInterval": "1h"},
        "backends": [discovering("a", &a), discovering("b", &b)],
        // Tiers in order, as before: a first, then b.
        "routes": [{"model": "*", "targets": [{"backend": "a"}, {"backend": "b"}]}]
    }))
    .await;
    listed(&router).await;
    b.fake()
        .install_model(hwc_ai_ollama_fake::CatalogModel::new("qwen3:8b"));
    let (status, _, body) = router.chat(ask("qwen3:8b", "hi")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (chat_calls(&a), chat_calls(&b)),
        (1, 1),
        "a said 404, b answered"
    );
    assert_eq!(
        router.circuit("a/*").await,
        "closed",
        "lacking a model is no failure"
    );
    // a's 404 made the lists be read again: the next request skips a.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = router.chat(ask("qwen3:8b", "again")).await;
    assert_eq!(status, 200);
    assert_eq!((chat_calls(&a), chat_calls(&b)), (1, 2));
    router.stop().await;
}

#[tokio::test]
async fn concurrent_requests_spread_over_a_tier_but_not_over_tiers() {
    let hosts = [
        host(&["llama3.2:3b"]).await,
        host(&["llama3.2:3b"]).await,
        host(&["llama3.2:3b"]).await,
    ];
    for h in &hosts {
        h.fake()
            .set_global_faults(Faults::none().with_delay(Duration::from_millis(200)));
    }
    let backends: Vec<Value> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| discovering(&format!("h{i}"), h))
        .collect();
    let hosts = &hosts;
    let run = |targets: Value| {
        let backends = backends.clone();
        async move {
            let router = RouterUnderTest::start(json!({
                "backends": backends,
                "routes": [{"model": "*", "targets": targets}]
            }))
            .await;
            let before: Vec<u64> = hosts.iter().map(chat_calls).collect();
            let all = (0..30).map(|i| router.chat(ask("llama3.2:3b", &format!("q{i}"))));
            for (status, _, body) in futures_util::future::join_all(all).await {
                assert_eq!(status, 200, "{body}");
            }
            let metrics = router.metrics().await;
            router.stop().await;
            let spread: Vec<u64> = hosts
                .iter()
                .zip(before)
                .map(|(h, b)| chat_calls(h) - b)
                .collect();
            (spread, metrics)
        }
    };
    let (spread, metrics) = run(json!([{"backends": ["h0", "h1", "h2"]}])).await;
    assert_eq!(spread.iter().sum::<u64>(), 30);
    assert!(spread.iter().all(|&n| n >= 5), "balanced: {spread:?}");
    assert!(
        sample(
            &metrics,
            "hwc_ai_router_routed_total{backend=\"h1\",reason=\"least_outstanding\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    let (spread, _) = run(json!([{"backend": "h0"}, {"backend": "h1"}, {"backend": "h2"}])).await;
    assert_eq!(spread, [30, 0, 0], "tiers keep their order");
}

#[tokio::test]
async fn a_host_with_the_model_loaded_is_preferred() {
    let cold = host(&["llama3.2:3b"]).await;
    let warm = host(&["llama3.2:3b"]).await;
    load(&warm, "llama3.2:3b").await;
    let router = RouterUnderTest::start(json!({
        "backends": [discovering("cold", &cold), discovering("warm", &warm)],
        "routes": [{"model": "*", "targets": [{"backends": ["cold", "warm"]}]}]
    }))
    .await;
    listed(&router).await;
    for i in 0..3 {
        let (status, _, body) = router.chat(ask("llama3.2:3b", &format!("q{i}"))).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!((chat_calls(&cold), chat_calls(&warm)), (0, 3));
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_routed_total{backend=\"warm\",reason=\"loaded\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
    router.stop().await;
}

/// `/execute` (and so strict-schema chat) is balanced like any request:
/// it goes to the host that has the model, loaded there if one has.
#[tokio::test]
async fn execute_goes_to_the_host_that_has_the_model_loaded() {
    let lacking = host(&["llama3.2:3b"]).await;
    let cold = host(&["llama3.2:3b", "qwen3:8b"]).await;
    let warm = host(&["llama3.2:3b", "qwen3:8b"]).await;
    load(&warm, "qwen3:8b").await;
    let router = RouterUnderTest::start(json!({
        "backends": [discovering("lacking", &lacking), discovering("cold", &cold),
                     discovering("warm", &warm)],
        "routes": [{"model": "*", "targets": [{"backends": ["lacking", "cold", "warm"]}]}]
    }))
    .await;
    listed(&router).await;
    for i in 0..2 {
        let response = client()
            .post(format!("{}/execute", router.url))
            .json(&json!({"model_name": "qwen3:8b", "prompt": format!("q{i}")}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["target"], "warm/*", "{body}");
        assert_eq!(
            body["attempts"].as_array().map(Vec::len),
            Some(1),
            "no host that lacks the model is asked first: {body}"
        );
    }
    assert_eq!(
        (chat_calls(&lacking), chat_calls(&cold), chat_calls(&warm)),
        (0, 0, 2)
    );
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_routed_total{backend=\"warm\",reason=\"loaded\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    router.stop().await;
}

#[tokio::test]
async fn a_conversation_stays_on_its_host() {
    let a = host(&["llama3.2:3b", "slow:1b"]).await;
    let b = host(&["llama3.2:3b"]).await;
    load(&a, "llama3.2:3b").await;
    a.fake()
        .set_faults(
            "slow:1b",
            Faults::none().with_delay(Duration::from_millis(800)),
        )
        .unwrap();
    // a takes one request at a time: while it is busy, the warm host is
    // full and the conversation starts on b.
    let mut small = discovering("a", &a);
    small["maxConcurrent"] = json!(1);
    let router = RouterUnderTest::start(json!({
        "backends": [small, discovering("b", &b)],
        "routes": [{"model": "*", "targets": [{"backends": ["a", "b"]}]}]
    }))
    .await;
    listed(&router).await;
    let first_turn = json!({"model": "llama3.2:3b", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "tell me about tides"}]});
    let busy = router.chat(ask("slow:1b", "hold a"));
    let start = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        router.chat(first_turn.clone()).await
    };
    let ((s1, _, _), (s2, _, body)) = tokio::join!(busy, start);
    assert_eq!((s1, s2), (200, 200), "{body}");
    assert_eq!(chat_calls(&b), 1);
    // Both idle now: a fresh chat goes to a (config order), the next turn
    // of the first one back to b.
    let (s, _, _) = router.chat(ask("llama3.2:3b", "unrelated")).await;
    assert_eq!(s, 200);
    assert_eq!((chat_calls(&a), chat_calls(&b)), (2, 1));
    let next_turn = json!({"model": "llama3.2:3b", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "tell me about tides"},
        {"role": "assistant", "content": "they rise"},
        {"role": "user", "content": "why?"}]});
    let (s, _, _) = router.chat(next_turn.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(
        (chat_calls(&a), chat_calls(&b)),
        (2, 2),
        "the conversation stayed on b"
    );
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_routed_total{backend=\"b\",reason=\"sticky\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    // b dies: the conversation moves on rather than failing.
    b.stop().await;
    let (s, _, body) = router.chat(next_turn).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(chat_calls(&a), 3);
    router.stop().await;
}

#[tokio::test]
async fn a_full_queue_is_refused_at_once() {
    let a = host(&["llama3.2:3b"]).await;
    a.fake()
        .set_global_faults(Faults::none().with_delay(Duration::from_millis(600)));
    let mut b = discovering("a", &a);
    b["maxConcurrent"] = json!(1);
    b["maxQueue"] = json!(1);
    let router = RouterUnderTest::start(json!({
        "backends": [b],
        "routes": [{"model": "*", "targets": [{"backend": "a"}]}]
    }))
    .await;
    listed(&router).await;
    let started = std::time::Instant::now();
    let three = (0..3).map(|i| {
        let router = &router;
        async move {
            tokio::time::sleep(Duration::from_millis(100 * i)).await;
            let (status, _, body) = router.chat(ask("llama3.2:3b", &format!("q{i}"))).await;
            (status, body, started.elapsed())
        }
    });
    let results = futures_util::future::join_all(three).await;
    // One answering, one waiting, the third refused without waiting.
    assert_eq!(results[0].0, 200);
    assert_eq!(results[1].0, 200);
    let (status, body, at) = &results[2];
    assert_eq!(*status, 429, "{body}");
    assert!(body.contains("backend_queue_full"), "{body}");
    assert!(
        *at < results[0].2,
        "refused while the first was still answered: {results:?}"
    );
    router.stop().await;
}

#[tokio::test]
async fn a_host_dying_mid_stream_ends_that_stream_and_the_next_goes_elsewhere() {
    let a = host(&["llama3.2:3b"]).await;
    let b = host(&["llama3.2:3b"]).await;
    a.fake().set_global_faults(
        Faults::none().with_generate(hwc_ai_ollama_fake::Fault::always(
            hwc_ai_ollama_fake::InferenceFault::DropAfter { chunks: 2 },
        )),
    );
    let router = RouterUnderTest::start(json!({
        "circuitBreaker": {"failureThreshold": 1, "cooldown": "1m"},
        "backends": [discovering("a", &a), discovering("b", &b)],
        "routes": [{"model": "*", "targets": [{"backends": ["a", "b"]}]}]
    }))
    .await;
    listed(&router).await;
    let mut stream = ask("llama3.2:3b", "a long story please");
    stream["stream"] = json!(true);
    let (status, _, body) = router.chat(stream.clone()).await;
    assert_eq!(status, 200);
    let events = sse_data(&body);
    assert!(
        events.iter().any(|e| e.contains("error")),
        "the broken stream ends with an error event: {body}"
    );
    assert_eq!(chat_calls(&b), 0);
    // The host is gone: the next stream goes to the other one, and after
    // its circuit opens, straight there.
    a.stop().await;
    for i in 1..=2 {
        let (status, _, body) = router.chat(stream.clone()).await;
        assert_eq!(status, 200);
        assert!(body.contains("[DONE]"), "{body}");
        assert_eq!(chat_calls(&b), i);
    }
    assert_eq!(router.circuit("a/*").await, "open");
    router.stop().await;
}
