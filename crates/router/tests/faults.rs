//! Fallback, circuit breakers, failures after the first byte and client
//! disconnects.

mod support;

use std::time::Duration;

use hwc_ai_ollama_fake::{Fault, Faults, InferenceFault};
use serde_json::{json, Value};
use support::*;

fn ask(stream: bool) -> Value {
    json!({"model": "chat", "stream": stream,
           "messages": [{"role": "user", "content": "one two three"}]})
}

#[tokio::test]
async fn falls_back_on_refused_500_429_and_hang_before_the_first_byte() {
    let ollama = ollama().await;
    let failing = Scripted::start(Reply::Status(500, r#"{"error":{"message":"boom"}}"#)).await;
    let limited = Scripted::start(Reply::Status(429, r#"{"error":{"message":"slow down"}}"#)).await;
    let hanging = Scripted::start(Reply::Hang(Duration::from_secs(10))).await;
    let keyless = Scripted::start(Reply::Status(401, r#"{"error":{"message":"no key"}}"#)).await;
    let config = json!({
        "backends": [
            backend("refused", &refused_base_url()),
            backend("keyless", &keyless.base_url()),
            backend("failing", &failing.base_url()),
            backend("limited", &limited.base_url()),
            backend("hanging", &hanging.base_url()),
            backend("ollama", &format!("{}/v1", ollama.url())),
        ],
        "routes": [{"model": "chat", "targets": [
            {"backend": "refused", "model": "m"},
            {"backend": "keyless", "model": "m"},
            {"backend": "failing", "model": "m"},
            {"backend": "limited", "model": "m"},
            {"backend": "hanging", "model": "m", "firstByteTimeout": "300ms", "timeout": "300ms"},
            {"backend": "ollama", "model": "llama3.2:3b"}
        ]}]
    });
    let router = RouterUnderTest::start(config).await;
    for stream in [false, true] {
        let (status, headers, body) = router.chat(ask(stream)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("three"), "{body}");
        let overhead: f64 = headers["x-hwc-ai-overhead-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            overhead < 250.0,
            "waiting on the hang is not overhead: {overhead}"
        );
    }
    assert_eq!((failing.hits(), limited.hits(), hanging.hits()), (2, 2, 2));
    let metrics = router.metrics().await;
    for (target, reason) in [
        ("refused/m", "connect"),
        ("keyless/m", "status_auth"),
        ("failing/m", "status_5xx"),
        ("limited/m", "status_429"),
        ("hanging/m", "timeout"),
    ] {
        let series = format!(
            "hwc_ai_router_fallbacks_total{{route=\"chat\",target=\"{target}\",reason=\"{reason}\"}}"
        );
        assert_eq!(sample(&metrics, &series), Some(2.0), "{series}\n{metrics}");
    }
    router.stop().await;
}

#[tokio::test]
async fn the_last_failure_decides_the_status() {
    let limited = Scripted::start(Reply::Status(429, "{}")).await;
    let hanging = Scripted::start(Reply::Hang(Duration::from_secs(10))).await;
    let keyless = Scripted::start(Reply::Status(401, r#"{"error":{"message":"no key"}}"#)).await;
    let config = json!({
        "backends": [
            backend("refused", &refused_base_url()),
            backend("keyless", &keyless.base_url()),
            backend("limited", &limited.base_url()),
            backend("hanging", &hanging.base_url()),
        ],
        "circuitBreaker": {"failureThreshold": 100},
        "routes": [
            {"model": "refused", "targets": [{"backend": "refused"}]},
            {"model": "limited", "targets": [{"backend": "limited"}]},
            {"model": "hanging", "targets": [{"backend": "hanging", "firstByteTimeout": "200ms"}]},
            {"model": "all", "targets": [{"backend": "limited"}, {"backend": "refused"}]}
        ]
    });
    let router = RouterUnderTest::start(config).await;
    for (model, stream, status, code) in [
        ("refused", false, 502, "upstream_error"),
        ("limited", false, 429, "upstream_rate_limited"),
        ("hanging", true, 504, "upstream_timeout"),
        ("all", false, 502, "upstream_error"),
    ] {
        let (got, headers, body) = router
            .chat(json!({"model": model, "stream": stream, "messages": []}))
            .await;
        assert_eq!(got, status, "{model}: {body}");
        assert!(headers.contains_key("x-hwc-ai-overhead-ms"));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], code, "{model}: {body}");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("127.0.0.1"),
            "{body}"
        );
    }
    router.stop().await;
}

#[tokio::test]
async fn no_fallback_after_the_first_byte() {
    let ollama = ollama().await;
    let chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n";
    let dying = Scripted::start(Reply::Sse {
        chunks: vec![chunk.to_owned(), chunk.to_owned()],
        gap: Duration::from_millis(5),
        cut: true,
    })
    .await;
    let config = json!({
        "backends": [backend("dying", &dying.base_url()),
                     backend("ollama", &format!("{}/v1", ollama.url()))],
        "routes": [{"model": "chat", "targets": [
            {"backend": "dying", "model": "m"},
            {"backend": "ollama", "model": "llama3.2:3b"}
        ]}]
    });
    let router = RouterUnderTest::start(config).await;
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(&format!("{chunk}{chunk}")), "{body}");
    let data = sse_data(&body);
    assert_eq!(data.len(), 3, "{body}");
    let error: Value = serde_json::from_str(&data[2]).unwrap();
    assert_eq!(error["error"]["code"], "upstream_error", "{body}");
    assert!(
        !body.contains("[DONE]") && !body.contains("finish_reason\":\"stop"),
        "{body}"
    );
    assert_eq!(
        ollama.calls().chat_completions(),
        0,
        "no second answer spliced in"
    );

    // A stream that just ends, without [DONE], is not complete either.
    dying.set(Reply::Sse {
        chunks: vec![chunk.to_owned()],
        gap: Duration::ZERO,
        cut: false,
    });
    let (_, _, body) = router.chat(ask(true)).await;
    let data = sse_data(&body);
    assert_eq!(data.len(), 2, "{body}");
    assert!(data[1].contains("\"error\""), "{body}");

    // Not streaming, nothing has reached the client when the body breaks:
    // the next target answers.
    dying.set(Reply::Sse {
        chunks: vec![chunk.to_owned()],
        gap: Duration::ZERO,
        cut: true,
    });
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ollama.calls().chat_completions(), 1);
    let metrics = router.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "hwc_ai_router_requests_total{route=\"chat\",target=\"dying/m\",status=\"stream_error\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    router.stop().await;
}

/// A stream that breaks off after its first chunk is a failure of its
/// target: enough of them open the circuit, and the next request goes to
/// the fallback instead of the target that keeps breaking.
#[tokio::test]
async fn a_stream_cut_mid_way_counts_against_its_target() {
    let ollama = ollama().await;
    let chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n";
    let dying = Scripted::start(Reply::Sse {
        chunks: vec![chunk.to_owned()],
        gap: Duration::ZERO,
        cut: true,
    })
    .await;
    let router = RouterUnderTest::start(json!({
        "backends": [backend("dying", &dying.base_url()),
                     backend("ollama", &format!("{}/v1", ollama.url()))],
        "circuitBreaker": {"failureThreshold": 2, "cooldown": "1m"},
        "routes": [{"model": "chat", "targets": [
            {"backend": "dying", "model": "m"},
            {"backend": "ollama", "model": "llama3.2:3b"}
        ]}]
    }))
    .await;
    for _ in 0..2 {
        let (status, _, body) = router.chat(ask(true)).await;
        assert_eq!(status, 200);
        assert!(body.contains("upstream_error"), "{body}");
    }
    assert_eq!(router.circuit("dying/m").await, "open");
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("[DONE]"),
        "the fallback answered whole: {body}"
    );
    assert_eq!(dying.hits(), 2, "the broken target is skipped while open");
    router.stop().await;
}

#[tokio::test]
async fn upstream_error_event_mid_stream_is_passed_on() {
    let ollama = ollama().await;
    ollama
        .set_faults(
            "llama3.2:3b",
            Faults::none().with_generate(Fault::always(InferenceFault::ErrorAfter {
                chunks: 2,
                message: "model crashed".into(),
            })),
        )
        .unwrap();
    let router = RouterUnderTest::start(json!({
        "backends": [backend("ollama", &format!("{}/v1", ollama.url()))],
        "routes": [{"model": "chat", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]}]
    }))
    .await;
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200);
    let data = sse_data(&body);
    assert!(data.last().unwrap().contains("model crashed"), "{body}");
    assert_eq!(body.matches("\"error\"").count(), 1, "{body}");
    assert!(!body.contains("[DONE]"));
    router.stop().await;
}

#[tokio::test]
async fn circuit_opens_and_recovers() {
    let ollama = ollama().await;
    let flaky = Scripted::start(Reply::Status(500, "{}")).await;
    let config = json!({
        "backends": [backend("flaky", &flaky.base_url()),
                     backend("ollama", &format!("{}/v1", ollama.url()))],
        "circuitBreaker": {"failureThreshold": 2, "cooldown": "1500ms"},
        "routes": [{"model": "chat", "targets": [
            {"backend": "flaky", "model": "m"},
            {"backend": "ollama", "model": "llama3.2:3b"}
        ]}]
    });
    let router = RouterUnderTest::start(config).await;
    for _ in 0..2 {
        assert_eq!(router.chat(ask(false)).await.0, 200);
    }
    assert_eq!(flaky.hits(), 2);
    assert_eq!(router.circuit("flaky/m").await, "open");
    assert_eq!(router.chat(ask(false)).await.0, 200);
    assert_eq!(flaky.hits(), 2, "skipped while open");
    let metrics = router.metrics().await;
    assert_eq!(
        sample(&metrics, "hwc_ai_router_circuit_state{target=\"flaky/m\"}"),
        Some(1.0),
        "{metrics}"
    );

    // Still failing after the cooldown: one trial, open again.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(router.chat(ask(false)).await.0, 200);
    assert_eq!(flaky.hits(), 3);
    assert_eq!(router.circuit("flaky/m").await, "open");

    // Recovered: the trial succeeds and the circuit closes.
    flaky.set(Reply::Status(
        200,
        r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"flaky is back"}}]}"#,
    ));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 200);
    assert!(body.contains("flaky is back"), "{body}");
    assert_eq!(router.circuit("flaky/m").await, "closed");
    let health = router.health().await;
    assert_eq!(health["status"], "ok");
    router.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_request() {
    let endless = Scripted::start(Reply::Endless(Duration::from_millis(20))).await;
    let router = RouterUnderTest::start(json!({
        "backends": [backend("endless", &endless.base_url())],
        "routes": [{"model": "chat", "targets": [{"backend": "endless", "model": "m"}]}]
    }))
    .await;
    let mut response = client()
        .post(router.chat_url())
        .json(&ask(true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(response);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !endless.abandoned() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upstream still streaming"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The request is logged and counted as the client's going away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = router.metrics().await;
        let series =
            "hwc_ai_router_requests_total{route=\"chat\",target=\"endless/m\",status=\"499\"}";
        if sample(&metrics, series) == Some(1.0) {
            assert_eq!(
                sample(&metrics, "hwc_ai_router_in_flight_requests"),
                Some(0.0)
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    router.stop().await;
}

/// OpenAI's SDKs close the connection as soon as they read `[DONE]`,
/// before the upstream's body has ended: the answer was whole, so the
/// request is a 200, not a client that went away.
#[tokio::test]
async fn a_client_that_leaves_after_done_got_its_answer() {
    let upstream = Scripted::start(Reply::Sse {
        chunks: vec![
            "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n".to_owned(),
            "data: [DONE]\n\n".to_owned(),
        ],
        gap: Duration::from_millis(300),
        cut: false,
    })
    .await;
    let router = RouterUnderTest::start(json!({
        "backends": [backend("sse", &upstream.base_url())],
        "routes": [{"model": "chat", "targets": [{"backend": "sse", "model": "m"}]}]
    }))
    .await;
    let mut response = client()
        .post(router.chat_url())
        .json(&ask(true))
        .send()
        .await
        .unwrap();
    let mut body = Vec::new();
    while !String::from_utf8_lossy(&body).contains("data: [DONE]") {
        body.extend_from_slice(&response.chunk().await.unwrap().unwrap());
    }
    drop(response);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = router.metrics().await;
        if sample(&metrics, "hwc_ai_router_in_flight_requests") == Some(0.0) {
            let series = |status: &str| {
                format!("hwc_ai_router_requests_total{{route=\"chat\",target=\"sse/m\",status=\"{status}\"}}")
            };
            assert_eq!(sample(&metrics, &series("200")), Some(1.0), "{metrics}");
            assert_eq!(sample(&metrics, &series("499")), None, "{metrics}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    router.stop().await;
}

#[tokio::test]
async fn backend_concurrency_is_bounded() {
    let ollama = ollama().await;
    let endless = Scripted::start(Reply::Endless(Duration::from_millis(50))).await;
    let router = RouterUnderTest::start(json!({
        "backends": [
            {"name": "endless", "kind": "openai-compatible", "baseUrl": endless.base_url(), "maxConcurrent": 1},
            backend("ollama", &format!("{}/v1", ollama.url()))
        ],
        "defaults": {"queueTimeout": "1s"},
        "routes": [
            {"model": "chat", "targets": [{"backend": "endless", "model": "m"}]},
            {"model": "spill", "targets": [{"backend": "endless", "model": "m"},
                                           {"backend": "ollama", "model": "llama3.2:3b"}]}
        ]
    }))
    .await;
    let mut held = client()
        .post(router.chat_url())
        .json(&ask(true))
        .send()
        .await
        .unwrap();
    held.chunk().await.unwrap();
    let started = std::time::Instant::now();
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("backend_busy"), "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it queued first"
    );
    let (status, _, _) = router
        .chat(json!({"model": "spill", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(status, 200, "the next target takes it");

    // A slot freed while a request waits for one is taken.
    let waiting = tokio::spawn({
        let url = router.chat_url();
        async move {
            let mut response = client().post(url).json(&ask(true)).send().await.unwrap();
            let status = response.status().as_u16();
            response.chunk().await.unwrap();
            status
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(held);
    assert_eq!(waiting.await.unwrap(), 200);
    router.stop().await;
}

#[tokio::test]
async fn a_stream_that_stalls_after_the_first_byte_is_ended() {
    let chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
    let stalling = Scripted::start(Reply::Sse {
        chunks: vec![chunk.to_owned(), chunk.to_owned()],
        gap: Duration::from_secs(10),
        cut: false,
    })
    .await;
    let router = RouterUnderTest::start(json!({
        "backends": [backend("stalling", &stalling.base_url())],
        "routes": [{"model": "chat", "targets": [
            {"backend": "stalling", "model": "m", "idleTimeout": "300ms"}]}]
    }))
    .await;
    let started = std::time::Instant::now();
    let (status, _, body) = router.chat(ask(true)).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    let data = sse_data(&body);
    assert_eq!(data.len(), 2, "{body}");
    assert!(data[1].contains("sent nothing for 300ms"), "{body}");
    // The upstream connection is closed with it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !stalling.abandoned() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upstream still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    router.stop().await;
}

#[tokio::test]
async fn garbage_and_huge_answers_are_target_failures() {
    let ollama = ollama().await;
    let garbage = Scripted::start(Reply::Status(200, "<html>proxy login</html>")).await;
    let huge = Scripted::start(Reply::Endless(Duration::ZERO)).await;
    let mut config = json!({
        "backends": [backend("garbage", &garbage.base_url()),
                     backend("huge", &huge.base_url()),
                     backend("ollama", &format!("{}/v1", ollama.url()))],
        "maxResponseBytes": 65536,
        "routes": [{"model": "chat", "targets": [
            {"backend": "garbage", "model": "m"},
            {"backend": "huge", "model": "m"},
            {"backend": "ollama", "model": "llama3.2:3b"}
        ]}]
    });
    let router = RouterUnderTest::start(config.clone()).await;
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("echo: one two three"), "{body}");
    let metrics = router.metrics().await;
    for (target, reason) in [("garbage/m", "invalid_body"), ("huge/m", "too_large")] {
        let series = format!(
            "hwc_ai_router_fallbacks_total{{route=\"chat\",target=\"{target}\",reason=\"{reason}\"}}"
        );
        assert_eq!(sample(&metrics, &series), Some(1.0), "{series}\n{metrics}");
    }
    router.stop().await;

    // Alone, the huge one is a 502 that says why.
    config["routes"][0]["targets"] = json!([{"backend": "huge", "model": "m"}]);
    let router = RouterUnderTest::start(config).await;
    let (status, _, body) = router.chat(ask(false)).await;
    assert_eq!(status, 502);
    assert!(body.contains("more than 65536 bytes"), "{body}");
    router.stop().await;
}
