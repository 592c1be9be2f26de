//! `hwc-ai chat --model`: one message, and a conversation whose turns go
//! back to the model, against an OpenAI-compatible stand-in for the router.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<Value>>>;

async fn router() -> (Seen, String) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(|State(seen): State<Seen>, Json(body): Json<Value>| async move {
                let n = body["messages"].as_array().map_or(0, Vec::len);
                seen.lock().unwrap().push(body);
                Json(json!({"choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": format!("reply to {n} message(s)")}}]}))
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_and_a_conversation() {
    let (seen, url) = router().await;
    let u = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hwc-ai"))
            .args([
                "chat",
                "--model",
                "fast",
                "--router-url",
                &u,
                "Name a colour",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reply to 1 message(s)\n"
    );
    assert_eq!(seen.lock().unwrap()[0]["model"], "fast");

    let u = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hwc-ai"))
            .args(["chat", "--model", "fast", "--router-url", &u])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"hello\nand again\n/quit\n")
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("reply to 1 message(s)") && stdout.contains("reply to 3 message(s)"),
        "{stdout}"
    );
    let last = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(
        last["messages"][1],
        json!({"role": "assistant", "content": "reply to 1 message(s)"})
    );

    // The router not there: exit 2, said.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hwc-ai"))
        .args([
            "chat",
            "--model",
            "fast",
            "--router-url",
            &format!("http://{gone}"),
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the router"));
}
