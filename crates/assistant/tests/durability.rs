//! The audit log survives the daemon being killed mid-request: every
//! answer a client received has its row, and the chain verifies.

use std::process::{Command, Stdio};
use std::time::Duration;

use hwc_ai_assistant::audit::{self, Verdict};
use hwc_ai_test_support::free_port;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-assistant");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_request_loses_no_answered_row() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("assistant.json");
    std::fs::write(
        &config,
        json!({
            "listen": format!("127.0.0.1:{port}"),
            "stateDirectory": dir.path().join("state"),
            "router": {"url": "http://127.0.0.1:9"},
            "tools": ["disk_usage"],
            "rateLimit": {"requestsPerMinute": 60000, "burst": 10000},
        })
        .to_string(),
    )
    .unwrap();
    let mut daemon = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Four clients ask again and again (each answer is two rows: the tool
    // call and the request); the daemon is killed while they do.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut answered = 0u32;
            loop {
                let sent = client
                    .post(&url)
                    .json(&json!({"model": "hwc-ai-assistant", "messages": [{"role": "user", "content": "How much disk space is left?"}]}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => answered += 1,
                    _ => return answered,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    daemon.kill().unwrap(); // SIGKILL: no drain, no clean close
    daemon.wait().unwrap();
    let mut answered = 0;
    for t in tasks {
        answered += t.await.unwrap();
    }
    assert!(answered > 0, "no request was answered before the kill");
    let db = dir.path().join("state/audit.db");
    match audit::verify(&db).unwrap() {
        Verdict::Intact { rows, .. } => {
            let requests = audit::tail_file(&db, rows as usize)
                .unwrap()
                .iter()
                .filter(|r| r.entry.tool.is_none())
                .count() as u32;
            assert!(
                requests >= answered,
                "{answered} answers sent, {requests} request rows kept"
            );
        }
        broken => panic!("the log broke: {broken:?}"),
    }
}
