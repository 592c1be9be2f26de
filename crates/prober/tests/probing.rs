//! The prober against real servers on loopback: states, reasons, metrics,
//! bounded probes, alerts.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{sample, Prober, Reply, Upstream};

const FAST: Duration = Duration::from_secs(3);

fn fast_defaults() -> serde_json::Value {
    // Short enough for quick tests, long enough that a loaded machine does
    // not turn a healthy loopback answer into a timeout.
    json!({"interval": "100ms", "timeout": "100ms", "failureThreshold": 2, "successThreshold": 2})
}

#[tokio::test]
async fn target_goes_down_with_the_reason_and_comes_back_up() {
    let upstream = Upstream::start().await;
    upstream.set("health", Reply::Status(200, "ok"));
    let prober = Prober::start(json!({
        "defaults": fast_defaults(),
        "targets": [{"name": "svc", "kind": "http", "url": upstream.url("health")}]
    }))
    .await;

    prober.wait_state("svc", "up", FAST).await;
    upstream.set("health", Reply::Status(502, "bad gateway"));
    let down = prober.wait_state("svc", "down", FAST).await;
    assert_eq!(down["lastError"], "status 502");
    assert_eq!(down["httpStatus"], 502);
    let health = prober.health().await;
    assert_eq!(health["status"], "degraded");

    let metrics = prober.metrics().await;
    let labels = r#"{target="svc",kind="http"}"#;
    assert_eq!(
        sample(&metrics, &format!("hwc_ai_prober_target_up{labels}")),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("hwc_ai_prober_probe_http_status_code{labels}")
        ),
        Some(502.0)
    );
    assert!(
        sample(
            &metrics,
            &format!("hwc_ai_prober_consecutive_failures{labels}")
        )
        .unwrap()
            >= 2.0
    );
    let since = |metrics: &str| {
        sample(
            metrics,
            &format!("hwc_ai_prober_target_state_since_timestamp_seconds{labels}"),
        )
        .unwrap()
    };
    let down_since = since(&metrics);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        down_since <= now && down_since > now - 10.0,
        "down since {down_since}, now {now}"
    );

    upstream.set("health", Reply::Status(200, "ok"));
    prober.wait_state("svc", "up", FAST).await;
    assert_eq!(prober.health().await["status"], "ok");
    let metrics = prober.metrics().await;
    assert_eq!(
        sample(&metrics, &format!("hwc_ai_prober_target_up{labels}")),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("hwc_ai_prober_state_changes_total{labels}")
        ),
        Some(3.0),
        "unknown→up, up→down, down→up"
    );
    assert!(
        since(&metrics) > down_since,
        "up since is the later transition"
    );
    prober.stop().await;
}

#[tokio::test]
async fn refused_connections_and_closed_ports_are_named() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let prober = Prober::start(json!({
        "defaults": fast_defaults(),
        "targets": [
            {"name": "ollama", "kind": "ollama", "url": format!("http://{closed}")},
            {"name": "db", "kind": "tcp", "address": closed.to_string()}
        ]
    }))
    .await;
    for name in ["ollama", "db"] {
        let down = prober.wait_state(name, "down", FAST).await;
        assert_eq!(down["lastError"], "connection refused", "{down}");
    }
    prober.stop().await;
}

#[tokio::test]
async fn body_conditions_decide_success_and_say_why_not() {
    let upstream = Upstream::start().await;
    upstream.set("text", Reply::Status(200, "all systems nominal"));
    upstream.set("json", Reply::Status(200, r#"{"database":"ok","n":2}"#));
    let prober = Prober::start(json!({
        "defaults": fast_defaults(),
        "targets": [
            {"name": "contains", "kind": "http", "url": upstream.url("text"), "body": {"contains": "nominal"}},
            {"name": "regex-miss", "kind": "http", "url": upstream.url("text"), "body": {"regex": "^degraded"}},
            {"name": "pointer", "kind": "http", "url": upstream.url("json"), "body": {"jsonPointer": "/database", "equals": "ok"}},
            {"name": "pointer-miss", "kind": "http", "url": upstream.url("json"), "body": {"jsonPointer": "/n", "equals": 3}},
            {"name": "not-json", "kind": "http", "url": upstream.url("text"), "body": {"jsonPointer": "/a", "equals": 1}},
            {"name": "status-set", "kind": "http", "url": upstream.url("missing"), "expectStatus": [404]}
        ]
    }))
    .await;
    for name in ["contains", "pointer", "status-set"] {
        prober.wait_state(name, "up", FAST).await;
    }
    let miss = prober.wait_state("regex-miss", "down", FAST).await;
    assert_eq!(
        miss["lastError"],
        "body condition failed: no match for /^degraded/"
    );
    let miss = prober.wait_state("pointer-miss", "down", FAST).await;
    assert_eq!(
        miss["lastError"],
        "body condition failed: /n is 2, expected 3"
    );
    let miss = prober.wait_state("not-json", "down", FAST).await;
    assert!(
        miss["lastError"]
            .as_str()
            .unwrap()
            .starts_with("body condition failed: body is not JSON"),
        "{miss}"
    );
    prober.stop().await;
}

#[tokio::test]
async fn hostile_targets_cannot_stall_the_others() {
    let upstream = Upstream::start().await;
    upstream.set("hang", Reply::Hang(Duration::from_secs(30)));
    upstream.set("endless", Reply::Endless);
    upstream.set("fine", Reply::Status(200, "ok"));
    let prober = Prober::start(json!({
        "maxConcurrentProbes": 8,
        "maxBodyBytes": 16384,
        "defaults": {"interval": "100ms", "timeout": "80ms", "failureThreshold": 1},
        "targets": [
            {"name": "hang", "kind": "http", "url": upstream.url("hang")},
            {"name": "endless", "kind": "http", "url": upstream.url("endless"), "body": {"contains": "never"}},
            {"name": "fine", "kind": "http", "url": upstream.url("fine"), "interval": "20ms", "timeout": "20ms", "failureThreshold": 10}
        ]
    }))
    .await;
    let hang = prober.wait_state("hang", "down", FAST).await;
    assert_eq!(hang["lastError"], "timeout after 80ms");
    let endless = prober.wait_state("endless", "down", FAST).await;
    assert_eq!(
        endless["lastError"],
        "body condition failed: does not contain \"never\" (in the part read)"
    );
    // While the others hang or stream, `fine` keeps its 20 ms rhythm.
    let before = upstream.hits("fine");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probes = upstream.hits("fine") - before;
    assert!(
        probes >= 10,
        "fine was probed only {probes} times in 500 ms"
    );
    assert_eq!(prober.target("fine").await["state"], "up");
    prober.stop().await;
}

#[tokio::test]
async fn ollama_targets_report_the_model_count() {
    let fake = hwc_ai_ollama_fake::FakeOllama::builtin();
    fake.install("llama3.2:3b").unwrap();
    fake.install("nomic-embed-text").unwrap();
    let server = fake.spawn().await.unwrap();
    let prober = Prober::start(json!({
        "defaults": fast_defaults(),
        "targets": [{"name": "ollama", "kind": "ollama", "url": server.url()}]
    }))
    .await;
    let up = prober.wait_state("ollama", "up", FAST).await;
    assert_eq!(up["models"], 2);
    let metrics = prober.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            r#"hwc_ai_prober_ollama_models{target="ollama",kind="ollama"}"#
        ),
        Some(2.0)
    );
    assert!(fake.calls().version() >= 1 && fake.calls().tags() >= 1);
    server.stop().await;
    prober.wait_state("ollama", "down", FAST).await;
    // A probe in flight while the server stops may see a reset; once the
    // port is closed, the reason is a refusal.
    let deadline = tokio::time::Instant::now() + FAST;
    loop {
        let target = prober.target("ollama").await;
        if target["lastError"] == "connection refused" {
            assert_eq!(target["state"], "down");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{target}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    prober.stop().await;
}

#[tokio::test]
async fn transitions_are_posted_to_webhooks_and_retried() {
    let target = Upstream::start().await;
    target.set("health", Reply::Status(500, "boom"));
    let hooks = Upstream::start().await;
    hooks.set("json", Reply::Status(200, "ok"));
    hooks.set("ntfy", Reply::Status(500, "not yet"));
    let prober = Prober::start(json!({
        "defaults": fast_defaults(),
        "targets": [{"name": "svc", "kind": "http", "url": target.url("health")}],
        "alerts": {"webhooks": [
            {"name": "ops", "url": hooks.url("json"), "format": "json"},
            {"name": "phone", "url": hooks.url("ntfy"), "format": "ntfy", "retries": 3}
        ]}
    }))
    .await;
    prober.wait_state("svc", "down", FAST).await;

    let deadline = tokio::time::Instant::now() + FAST;
    while hooks.received("json").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no JSON alert arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (headers, body) = &hooks.received("json")[0];
    assert_eq!(headers["content-type"], "application/json");
    let alert: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(alert["target"], "svc");
    assert_eq!(alert["state"], "down");
    assert_eq!(alert["previousState"], "unknown");
    assert_eq!(alert["reason"], "status 500");
    assert_eq!(alert["source"], "hwc-ai-prober");

    // The ntfy receiver fails, then recovers: the alert is retried (after
    // 1 s of backoff) and delivered; the failure is counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    hooks.set("ntfy", Reply::Status(200, "ok"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while hooks.hits("ntfy") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ntfy alert was not retried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (headers, body) = hooks.received("ntfy").pop().unwrap();
    assert_eq!(headers["priority"], "high");
    assert!(headers["title"]
        .to_str()
        .unwrap()
        .ends_with(": svc is DOWN"));
    assert_eq!(body, "svc (http) is DOWN: status 500");
    let metrics = prober.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            r#"hwc_ai_prober_alert_failures_total{webhook="phone"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"hwc_ai_prober_alert_deliveries_total{webhook="phone"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"hwc_ai_prober_alert_deliveries_total{webhook="ops"}"#
        ),
        Some(1.0)
    );

    // Recovery is announced too.
    target.set("health", Reply::Status(200, "ok"));
    prober.wait_state("svc", "up", FAST).await;
    let deadline = tokio::time::Instant::now() + FAST;
    while hooks.received("json").len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no recovery alert");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alert: serde_json::Value = serde_json::from_str(&hooks.received("json")[1].1).unwrap();
    assert_eq!(
        (alert["previousState"].as_str(), alert["state"].as_str()),
        (Some("down"), Some("up"))
    );
    prober.stop().await;
}

#[tokio::test]
async fn bearer_tokens_are_sent_but_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "canary-7f3a9c\n").unwrap();
    let upstream = Upstream::start().await;
    upstream.set("private", Reply::RequireBearer("canary-7f3a9c".into()));
    let prober = Prober::start(json!({
        "defaults": fast_defaults(),
        "targets": [
            {"name": "with-token", "kind": "http", "url": upstream.url("private"), "bearerToken": {"file": token_file}},
            {"name": "without", "kind": "http", "url": upstream.url("private")}
        ]
    }))
    .await;
    prober.wait_state("with-token", "up", FAST).await;
    let without = prober.wait_state("without", "down", FAST).await;
    assert_eq!(without["lastError"], "status 401");
    let everything = format!("{}{}", prober.health().await, prober.metrics().await);
    assert!(
        !everything.contains("canary"),
        "the token leaked: {everything}"
    );
    prober.stop().await;
}
