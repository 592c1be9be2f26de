//! The real binary with canary key values: they reach the upstream that
//! needs them and appear in no log line, error body, metric or health
//! document.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use support::*;
use tokio::io::AsyncReadExt;

const CLIENT_CANARY: &str = "canary-client-key-5f0d1c";
const BACKEND_CANARY: &str = "canary-backend-key-9a7e42";
const WRONG_CANARY: &str = "canary-wrong-key-31b8";
/// A client's own secret in a request field; the debug log must not show it.
const FIELD_CANARY: &str = "canary-field-token-77c2";

#[tokio::test]
async fn canary_keys_never_leak() {
    let dir = tempfile::tempdir().unwrap();
    let client_key = dir.path().join("client.key");
    let backend_key = dir.path().join("backend.key");
    std::fs::write(&client_key, format!("{CLIENT_CANARY}\n")).unwrap();
    std::fs::write(&backend_key, BACKEND_CANARY).unwrap();
    let upstream = Scripted::start(Reply::Status(
        200,
        r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
    ))
    .await;
    // A provider that quotes the key it was sent in its error.
    let quoting = Scripted::start(Reply::Status(
        400,
        r#"{"error":{"message":"model not allowed for key canary-backend-key-9a7e42"}}"#,
    ))
    .await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = json!({
        "listen": format!("127.0.0.1:{port}"),
        "debugRequests": true,
        "clients": {"keys": [{"name": "bot", "key": {"file": client_key}}],
                    "allowUnauthenticatedLoopback": false},
        "backends": [
            {"name": "cloud", "kind": "openai-compatible", "baseUrl": upstream.base_url(),
             "apiKey": {"file": backend_key}},
            {"name": "gone", "kind": "openai-compatible", "baseUrl": refused_base_url(),
             "apiKey": {"file": backend_key}},
            {"name": "quoting", "kind": "openai-compatible", "baseUrl": quoting.base_url(),
             "apiKey": {"file": backend_key}}
        ],
        "routes": [
            {"model": "chat", "targets": [{"backend": "cloud", "model": "m"}]},
            {"model": "broken", "targets": [{"backend": "gone", "model": "m"}]},
            {"model": "quoting", "targets": [{"backend": "quoting", "model": "m"}]}
        ]
    });
    let config_path = dir.path().join("router.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwc-ai-router"))
        .arg("--config")
        .arg(&config_path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client().get(format!("{url}/health")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "router did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut seen = String::new();
    let chat = |model: &'static str, key: &'static str, stream: bool| {
        let request = client()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "x"}]}));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = format!("{:?}", response.headers());
            (status, headers + &response.text().await.unwrap())
        }
    };
    let (status, text) = chat("chat", CLIENT_CANARY, false).await;
    assert_eq!(status, 200, "{text}");
    seen += &text;
    let (status, text) = chat("chat", WRONG_CANARY, false).await;
    assert_eq!(status, 401, "{text}");
    seen += &text;
    let (status, text) = chat("broken", CLIENT_CANARY, false).await;
    assert_eq!(status, 502, "{text}");
    seen += &text;
    let (status, text) = chat("nope", CLIENT_CANARY, true).await;
    assert_eq!(status, 404, "{text}");
    seen += &text;
    let (status, text) = chat("quoting", CLIENT_CANARY, false).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("model not allowed for key <redacted>"),
        "{text}"
    );
    seen += &text;
    // Debug mode: the upstream request and answer are logged, redacted.
    let debug = |model: &'static str, path: &'static str, body: serde_json::Value| {
        let request = client()
            .post(format!("{url}{path}"))
            .bearer_auth(CLIENT_CANARY)
            .header("x-hwc-ai-debug", "1")
            .json(&body);
        let _ = model;
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, text) = debug(
        "chat",
        "/v1/chat/completions",
        json!({"model": "chat", "messages": [{"role": "user", "content": "x"}],
               "metadata": {"api_key": FIELD_CANARY}}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    seen += &text;
    let (status, text) = debug(
        "quoting",
        "/execute",
        json!({"model_name": "quoting", "prompt": "x"}),
    )
    .await;
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("provider_error"), "{text}");
    seen += &text;
    let (status, text) = debug(
        "chat",
        "/execute",
        json!({"model_name": "chat", "prompt": "x"}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    seen += &text;

    for path in ["/metrics", "/health"] {
        seen += &client()
            .get(format!("{url}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }

    // The backend key went where it belongs.
    let sent = upstream.received_headers();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0]["authorization"], format!("Bearer {BACKEND_CANARY}"));

    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    let requests: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("INFO request id="))
        .collect();
    assert_eq!(requests.len(), 8, "one line per request:\n{logs}");
    let debugged = logs
        .lines()
        .filter(|l| l.contains("debug: upstream request"))
        .count();
    assert_eq!(debugged, 3, "{logs}");
    assert!(logs.contains("authorization: Bearer <redacted>"), "{logs}");
    assert!(logs.contains(r#""api_key":"<redacted>""#), "{logs}");
    assert!(requests[0].contains("client=bot"), "{logs}");
    assert!(requests[0].contains("target=cloud/m"), "{logs}");
    assert!(requests[0].contains("prompt_tokens=1"), "{logs}");
    assert!(requests[1].contains("status=401"), "{logs}");
    assert!(requests[2].contains("target=gone/m status=502"), "{logs}");
    for canary in [CLIENT_CANARY, BACKEND_CANARY, WRONG_CANARY, FIELD_CANARY] {
        assert!(!logs.contains(canary), "{canary} in the logs:\n{logs}");
        assert!(!seen.contains(canary), "{canary} in a response:\n{seen}");
    }
}
