//! `hwc-ai up` runs the whole stack in one process; `hwc-ai status` shows
//! the prober's targets and the router's circuits; SIGTERM stops it all.

mod support;

use std::process::Stdio;
use std::time::Duration;

use hwc_ai_ollama_fake::{CatalogModel, FakeOllama};
use hwc_ai_test_support::{free_port, Embedded};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{hwc_ai, BIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_routes_to_ollama_and_status_shows_the_circuits() {
    let fake = FakeOllama::new([CatalogModel::new("tinyllama")]);
    fake.install("tinyllama").unwrap();
    let server = fake.spawn().await.unwrap();
    let ollama = server.url();
    let (prober, puller, router) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("up.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "prober": {
                "listen": format!("127.0.0.1:{prober}"),
                "defaults": { "interval": "200ms", "timeout": "150ms" },
                "targets": [
                    { "name": "ollama", "kind": "ollama", "url": ollama },
                    { "name": "hwc-ai-router", "kind": "hwc-ai", "url": format!("http://127.0.0.1:{router}") },
                ],
            },
            "puller": { "listen": format!("127.0.0.1:{puller}"), "ollamaUrl": ollama, "models": [] },
            "router": {
                "listen": format!("127.0.0.1:{router}"),
                "circuitBreaker": { "failureThreshold": 1, "cooldown": "1h" },
                "backends": [{ "name": "ollama", "kind": "openai-compatible",
                               "baseUrl": format!("{ollama}/v1") }],
                "routes": [{ "model": "*", "targets": [{ "backend": "ollama" }] }],
            },
            // Not needed here, and their default ports may be taken.
            "mcp": null,
            "assistant": null,
        })
        .to_string(),
    )
    .unwrap();
    let mut up = tokio::process::Command::new(BIN)
        .args(["up", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let prober_url = format!("http://127.0.0.1:{prober}");
    let router_url = format!("http://127.0.0.1:{router}");
    let status = ["status", "--url", &prober_url, "--router-url", &router_url];

    // Every target up, the router's one target closed.
    let mut last = (0, String::new(), String::new());
    for _ in 0..250 {
        last = hwc_ai(&status).await;
        if last.0 == 0 && last.1.contains("ollama/*") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, table, stderr) = &last;
    assert_eq!(*code, 0, "{table}{stderr}");
    assert!(table.contains("ollama/*       local  CLOSED"), "{table}");
    assert!(table.contains("nothing leaves the host"), "{table}");

    // A client's request goes through the router to Ollama.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let chat = serde_json::json!({
        "model": "tinyllama",
        "messages": [{ "role": "user", "content": "hello" }],
    });
    let response = client
        .post(format!("{router_url}/v1/chat/completions"))
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion", "{body}");

    // Ollama gone: the request fails with 502, the circuit opens, and
    // status says so with exit 1.
    server.stop().await;
    let response = client
        .post(format!("{router_url}/v1/chat/completions"))
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let (code, table, _) = hwc_ai(&status).await;
    assert_eq!(code, 1, "{table}");
    assert!(table.contains("ollama/*       local  OPEN"), "{table}");
    let (_, json, _) = hwc_ai(&[&status[..], &["--json"]].concat()).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["router"]["targets"][0]["circuit"], "open", "{json}");
    assert!(json["prober"]["targets"].is_array(), "{json}");

    // SIGTERM stops every daemon and the process exits 0.
    kill(Pid::from_raw(up.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(15), up.wait())
        .await
        .expect("hwc-ai up stops within the drain bound")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn status_without_a_router_shows_the_prober_alone() {
    // A prober is needed: serve one on a free port with no targets.
    let config: hwc_ai_prober::Config =
        hwc_ai_runtime::config::parse(r#"{"targets": []}"#).unwrap();
    let prober = Embedded::start(|ctx| hwc_ai_prober::run(config, ctx));
    let url = prober.url.clone();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let mut last = (0, String::new(), String::new());
    for _ in 0..100 {
        last = hwc_ai(&["status", "--url", &url, "--router-url", &nowhere]).await;
        if last.0 != 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, table, stderr) = last;
    assert_eq!(code, 0, "{table}{stderr}");
    assert!(!table.contains("ROUTER"), "{table}");
}

/// Right after a start, a target whose first probes failed is still
/// unknown (not yet `failureThreshold` failures): status says so rather
/// than "none down".
#[tokio::test]
async fn status_counts_the_targets_not_yet_known() {
    let closed = free_port();
    let prober = Embedded::start_with_url(|url, ctx| {
        let config: hwc_ai_prober::Config = hwc_ai_runtime::config::parse(
            &serde_json::json!({
                "defaults": { "interval": "1h", "timeout": "1s", "failureThreshold": 3 },
                "targets": [
                    { "name": "ollama", "kind": "ollama", "url": format!("http://127.0.0.1:{closed}") },
                    { "name": "self", "kind": "hwc-ai", "url": url },
                ],
            })
            .to_string(),
        )
        .unwrap();
        hwc_ai_prober::run(config, ctx)
    });
    let url = prober.url.clone();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let mut last = (0, String::new(), String::new());
    for _ in 0..250 {
        last = hwc_ai(&["status", "--url", &url, "--router-url", &nowhere]).await;
        if last.1.contains("connection refused") && last.1.contains(" UP ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, table, stderr) = last;
    assert!(table.contains("ollama  ollama  UNKNOWN"), "{table}{stderr}");
    assert!(
        table.ends_with("2 targets, 0 down, 1 not yet known\n"),
        "{table}{stderr}"
    );
}

/// On a fresh machine, `hwc-ai up` runs the assistant too: an assistant
/// section that names only its port keeps its audit log in the user's
/// state directory, and `hwc-ai ask` gets disk questions answered without
/// a model and without a D-Bus system bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_the_assistant_and_ask_is_answered_without_a_model() {
    let port = free_port();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("up.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "prober": null, "puller": null, "router": null, "mcp": null,
            "assistant": {
                "listen": format!("127.0.0.1:{port}"),
                "router": { "url": nowhere },
                "stack": { "proberUrl": nowhere, "pullerUrl": nowhere, "routerUrl": nowhere },
            },
        })
        .to_string(),
    )
    .unwrap();
    let state = home.path().join("state");
    let mut up = tokio::process::Command::new(BIN)
        .args(["up", "--config", config.to_str().unwrap()])
        .env("XDG_STATE_HOME", &state)
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}/no-bus", home.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let mut last = (0, String::new(), String::new());
    for _ in 0..250 {
        last = hwc_ai(&["ask", "--url", &url, "how much disk is left?"]).await;
        if !last.2.contains("cannot reach the assistant") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, answer, stderr) = last;
    assert_eq!(code, 0, "{answer}{stderr}");
    assert!(answer.contains("- /: "), "{answer}");
    let (code, answer, stderr) = hwc_ai(&["ask", "--url", &url, "is everything running?"]).await;
    assert_eq!(code, 0, "{answer}{stderr}");
    // `hwc-ai audit` finds up's log in the same per-user directory.
    let verified = tokio::process::Command::new(BIN)
        .args(["audit", "verify"])
        .env("XDG_STATE_HOME", &state)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}{:?}", verified.stderr);
    let audit = state.join("hwc-ai/assistant/audit.db");
    assert!(
        stdout.starts_with(&format!("{}: intact, ", audit.display())),
        "{stdout}"
    );
    kill(Pid::from_raw(up.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(15), up.wait())
        .await
        .expect("hwc-ai up stops within the drain bound")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
