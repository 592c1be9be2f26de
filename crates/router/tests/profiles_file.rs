//! `$HWC_AI_ROUTER_PROFILES_FILE`: profiles kept outside the config (and
//! outside Nix) replace the config's of the same name and add others;
//! `--check-config` checks them, and an error names the file and field.

use std::process::Command;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-router");

fn config(dir: &std::path::Path, listen: &str) -> std::path::PathBuf {
    let path = dir.join("router.json");
    std::fs::write(
        &path,
        json!({
            "listen": listen,
            "backends": [{"name": "ollama", "kind": "openai-compatible",
                          "baseUrl": "http://127.0.0.1:11434/v1"}],
            "profiles": [{"name": "triage", "temperature": 0.1,
                          "targets": [{"backend": "ollama", "model": "qwen3:8b"}]}],
        })
        .to_string(),
    )
    .unwrap();
    path
}

#[test]
fn check_config_reads_the_profiles_file_and_names_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "127.0.0.1:0");
    let profiles = dir.path().join("profiles.json");
    std::fs::write(
        &profiles,
        json!({"profiles": [{"name": "report", "targets": [{"backend": "olama"}]}]}).to_string(),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--check-config", "--config"])
        .arg(&config)
        .env("HWC_AI_ROUTER_PROFILES_FILE", &profiles)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("profiles[1].targets[0].backend: no backend is named `olama`"),
        "{stderr}"
    );

    std::fs::write(
        &profiles,
        "{\"profiles\": [{\"name\": \"report\", \"targets\": 5}]}",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--check-config", "--config"])
        .arg(&config)
        .env("HWC_AI_ROUTER_PROFILES_FILE", &profiles)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HWC_AI_ROUTER_PROFILES_FILE="), "{stderr}");
    assert!(stderr.contains("profiles[0].targets"), "{stderr}");
}

#[tokio::test]
async fn the_file_replaces_and_adds_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config(dir.path(), &format!("127.0.0.1:{port}"));
    let profiles = dir.path().join("profiles.json");
    std::fs::write(
        &profiles,
        json!({"profiles": [
            {"name": "triage", "targets": [{"backend": "ollama", "model": "llama3.2:3b"}]},
            {"name": "report", "targets": [{"backend": "ollama", "model": "qwen3:8b"}]},
        ]})
        .to_string(),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("HWC_AI_ROUTER_PROFILES_FILE", &profiles)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut health = serde_json::Value::Null;
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
        {
            health = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let routes = health["routes"].to_string();
    assert!(routes.contains(r#""model":"report""#), "{health}");
    assert!(
        routes.contains("ollama/llama3.2:3b"),
        "the file's triage wins: {health}"
    );
    assert!(
        !routes.contains("ollama/qwen3:8b\"]},{\"model\":\"report\""),
        "{health}"
    );
    child.kill().await.unwrap();
}
