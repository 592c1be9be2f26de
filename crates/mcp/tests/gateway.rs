//! The gateway against stdio servers that misbehave (real processes: a
//! server that never answers, one that dies at once) and against clients
//! that are not let in. Real MCP servers are checked in checks/peers.

use std::time::{Duration, Instant};

use hwc_ai_test_support::Embedded;
use serde_json::{json, Value};

struct Gateway {
    daemon: Embedded,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Runs a gateway in this process on a free loopback port.
    async fn start(mut config: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bot.key"), "k-bot-123\n").unwrap();
        let text = config
            .to_string()
            .replace("@KEYFILE@", dir.path().join("bot.key").to_str().unwrap());
        config = serde_json::from_str(&text).unwrap();
        let config: hwc_ai_mcp::Config =
            hwc_ai_runtime::config::parse(&config.to_string()).expect("valid config");
        let daemon = Embedded::start(|ctx| hwc_ai_mcp::run(config, ctx));
        Self { daemon, _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.daemon.url)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(self.url(path)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `/servers/{name}` until `done` holds, or panics after `limit`.
    async fn wait_for(&self, name: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (_, entry) = self.get(&format!("/servers/{name}")).await;
            if done(&entry) {
                return entry;
            }
            assert!(
                started.elapsed() < limit,
                "gave up waiting; last entry: {entry:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.daemon
            .stop_within(Duration::from_secs(15))
            .await
            .expect("the gateway stops")
            .unwrap();
    }
}

#[tokio::test]
async fn a_server_that_never_answers_initialize_is_reported_down() {
    let gateway = Gateway::start(json!({
        "checkTimeout": "500ms",
        "servers": [{"name": "mute", "command": "sleep", "args": ["600"]}]
    }))
    .await;
    let entry = gateway
        .wait_for("mute", Duration::from_secs(10), |e| e["state"] == "down")
        .await;
    let error = entry["lastError"].as_str().unwrap();
    assert!(
        error.contains("no answer to initialize within 500ms"),
        "{error}"
    );
    assert_eq!(entry["transport"], "stdio");
    assert_eq!(entry["tools"], json!([]));
    let (status, health) = gateway.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["servers"]["down"], 1);
    // Calls fail fast and say why; nothing hangs.
    let response = reqwest::Client::new()
        .post(gateway.url("/openapi/mute/anything"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "server_down");
    let metrics = reqwest::get(gateway.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hwc_ai_mcp_server_up{server=\"mute\"} 0"),
        "{metrics}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_server_that_dies_is_started_again_and_its_exit_reported() {
    let gateway = Gateway::start(json!({
        "checkTimeout": "2s",
        "servers": [{"name": "dying", "command": "sh",
                     "args": ["-c", "echo 'cannot open database' >&2; exit 3"]}]
    }))
    .await;
    let entry = gateway
        .wait_for("dying", Duration::from_secs(15), |e| {
            e["restarts"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(entry["state"], "down");
    let error = entry["lastError"].as_str().unwrap();
    assert!(error.contains("exited with status 3"), "{error}");
    assert!(error.contains("cannot open database"), "{error}");
    let metrics = reqwest::get(gateway.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let restarts = metrics
        .lines()
        .find(|l| l.starts_with("hwc_ai_mcp_server_restarts_total{server=\"dying\"}"))
        .expect("restart counter");
    assert_ne!(restarts.rsplit(' ').next(), Some("0"), "{restarts}");
    gateway.stop().await;
}

#[tokio::test]
async fn clients_without_a_key_get_401_with_a_wrong_one_403() {
    let gateway = Gateway::start(json!({
        "clients": {"keys": [{"name": "bot", "key": {"file": "@KEYFILE@"}}],
                    "allowUnauthenticatedLoopback": false},
        "servers": []
    }))
    .await;
    let client = reqwest::Client::new();
    let missing = client.get(gateway.url("/servers")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let wrong = client
        .get(gateway.url("/servers"))
        .bearer_auth("k-bot-124")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let body: Value = wrong.json().await.unwrap();
    assert!(
        !body.to_string().contains("k-bot"),
        "the key is not echoed: {body}"
    );
    for path in ["/servers", "/openapi.json", "/.well-known/mcp.json"] {
        let ok = client
            .get(gateway.url(path))
            .bearer_auth("k-bot-123")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{path}");
    }
    let one = client
        .get(gateway.url("/servers/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 401);
    // Liveness and metrics need no key.
    assert_eq!(gateway.get("/health").await.0, 200);
    assert_eq!(
        reqwest::get(gateway.url("/metrics"))
            .await
            .unwrap()
            .status(),
        200
    );
    gateway.stop().await;
}

#[tokio::test]
async fn browser_origins_are_checked_and_allowed_ones_get_cors() {
    let gateway = Gateway::start(json!({
        "allowedOrigins": ["http://localhost:8080"],
        "servers": []
    }))
    .await;
    let client = reqwest::Client::new();
    let foreign = client
        .get(gateway.url("/servers"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let body: Value = foreign.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "origin_not_allowed");
    let allowed = client
        .get(gateway.url("/servers"))
        .header("origin", "http://localhost:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:8080"
    );
    let preflight = client
        .request(reqwest::Method::OPTIONS, gateway.url("/openapi/x/y"))
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let headers = preflight.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:8080"
    );
    let allow = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allow.contains("authorization"), "{allow}");
    gateway.stop().await;
}

#[tokio::test]
async fn unknown_servers_and_bad_bodies_are_named() {
    let gateway = Gateway::start(json!({
        "checkTimeout": "300ms",
        "servers": [{"name": "mute", "command": "sleep", "args": ["600"]}]
    }))
    .await;
    let (status, body) = gateway.get("/servers/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["kind"], "unknown_server");
    let client = reqwest::Client::new();
    let response = client
        .post(gateway.url("/openapi/mute/x"))
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "invalid_request");
    gateway.stop().await;
}

/// docs/mcp.md promises the exit status in `lastError`: a server killed
/// while connected is reported as killed, every time, not as "the
/// connection closed" (the pipe closing and the exit race each other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_reported_by_its_signal_every_time() {
    let echo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../checks/debian-vm/guest/mcp-echo-server.py"
    );
    let gateway = Gateway::start(json!({
        "checkTimeout": "5s",
        "servers": [{"name": "echo", "command": "python3", "args": [echo]}]
    }))
    .await;
    let client = reqwest::Client::new();
    for round in 0..8 {
        let entry = gateway
            .wait_for("echo", Duration::from_secs(20), |e| {
                e["state"] == "up" && e["pid"].as_u64().is_some()
            })
            .await;
        let pid = entry["pid"].as_u64().unwrap() as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let entry = gateway
            .wait_for("echo", Duration::from_secs(10), |e| e["state"] == "down")
            .await;
        let error = entry["lastError"].as_str().unwrap_or_default();
        assert!(
            error.contains("was killed by SIGKILL"),
            "round {round}: {error}"
        );
        // Start it again now rather than after the backoff.
        client
            .post(gateway.url("/servers/echo/check"))
            .send()
            .await
            .unwrap();
    }
    gateway.stop().await;
}

/// One JSON-RPC request to `/mcp/echo`, answered as JSON or as SSE.
async fn rpc(gateway: &Gateway, version: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(gateway.url("/mcp/echo"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", version)
        .json(&body)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let json = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(&text);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `server/discover` as mcp 2.x's client sends it first (Open WebUI's):
/// the gateway lists only the versions it speaks, those reached through
/// `initialize`, so the client falls back to it; a request that claims
/// 2026-07-28 is told which versions there are.
#[tokio::test]
async fn discover_lists_only_the_versions_the_gateway_speaks() {
    let echo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../checks/debian-vm/guest/mcp-echo-server.py"
    );
    let gateway = Gateway::start(json!({
        "servers": [{"name": "echo", "command": "python3", "args": [echo]}]
    }))
    .await;
    gateway
        .wait_for("echo", Duration::from_secs(20), |e| e["state"] == "up")
        .await;
    let meta = |version: &str| {
        json!({
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {}
        })
    };
    let discovered = rpc(
        &gateway,
        "2025-11-25",
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
               "params": {"_meta": meta("2025-11-25")}}),
    )
    .await;
    assert_eq!(
        discovered["result"]["supportedVersions"],
        json!(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]),
        "{discovered}"
    );
    let modern = rpc(
        &gateway,
        "2026-07-28",
        json!({"jsonrpc": "2.0", "id": 2, "method": "server/discover",
               "params": {"_meta": meta("2026-07-28")}}),
    )
    .await;
    assert!(modern["error"].is_object(), "{modern}");
    assert!(
        !modern["error"]["data"]
            .to_string()
            .contains("2026-07-28\"]"),
        "{modern}"
    );
    gateway.stop().await;
}
