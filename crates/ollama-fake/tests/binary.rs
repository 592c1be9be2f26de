//! The `hwc-ai-ollama-fake` binary: scenario loading and serving.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::get;
use hwc_ai_test_support::free_port;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-ollama-fake");

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serves_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.json");
    std::fs::write(
        &scenario,
        json!({
            "version": "0.12.6",
            "catalog": [{"name": "tiny:1b", "modelSize": 2048}],
            "installed": ["tiny:1b", "nomic-embed-text"],
            "pullSpeed": {"steps": 2, "tick": "1ms"},
            "faults": [{"model": "tinyllama", "pull": {"kind": "reject", "status": 503, "message": "nope"}}]
        })
        .to_string(),
    )
    .unwrap();
    let port = free_port();
    let _child = Child(
        Command::new(BIN)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--scenario"])
            .arg(&scenario)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while common::client()
        .get(format!("{base}/api/version"))
        .send()
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(10), "never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, tags) = get(&format!("{base}/api/tags")).await;
    let mut names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["nomic-embed-text:latest", "tiny:1b"]);
    let (code, body) =
        common::post(&format!("{base}/api/pull"), json!({"model": "tinyllama"})).await;
    assert_eq!((code, body), (503, json!({"error": "nope"})));
    let (code, body) = common::post(
        &format!("{base}/api/pull"),
        json!({"model": "llama3.2:1b", "stream": false}),
    )
    .await;
    assert_eq!((code, body), (200, json!({"status": "success"})));
}

#[test]
fn check_scenario_names_the_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"installed": ["tinyllama"]}"#).unwrap();
    let out = Command::new(BIN)
        .args(["--check-scenario", "--scenario"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"faults": [{"pull": {"kind": "drop", "afterBytes": "x"}}]}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--check-scenario", "--scenario"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("faults[0].pull.afterBytes"), "{stderr}");
}
