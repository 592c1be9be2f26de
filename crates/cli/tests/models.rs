//! `hwc-ai models` and `hwc-ai models sync` against a puller running on
//! the fake Ollama: the table tells the truth, the exit codes follow it.

mod support;

use std::time::Duration;

use hwc_ai_ollama_fake::{CatalogModel, FakeOllama, PullSpeed};
use hwc_ai_test_support::Embedded;
use support::hwc_ai;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_and_sync_against_a_puller_on_the_fake() {
    let fake = FakeOllama::new([
        CatalogModel::new("tinyllama").model_size(20_000),
        CatalogModel::embedding("nomic-embed-text").model_size(10_000),
        CatalogModel::new("old:7b").model_size(1_000),
    ]);
    fake.set_pull_speed(PullSpeed::Steps {
        steps: 4,
        tick: Duration::from_millis(1),
    });
    fake.install("tinyllama").unwrap();
    fake.install("old:7b").unwrap();
    let server = fake.spawn().await.unwrap();

    let config: hwc_ai_puller::Config = hwc_ai_runtime::config::parse(
        &serde_json::json!({
            "ollamaUrl": server.url(),
            "models": ["tinyllama", {"name": "nomic-embed-text", "autoUpdate": true}, "late:1b"],
            "disk": { "path": "/", "minFree": 0 },
            "retry": { "initial": "1h", "max": "1h" },
        })
        .to_string(),
    )
    .unwrap();
    let puller = Embedded::start(|ctx| hwc_ai_puller::run(config, ctx));
    let url = puller.url.clone();

    // Wait until the first reconcile has settled: late:1b fails.
    let mut table = String::new();
    for _ in 0..500 {
        let (code, stdout, _) = hwc_ai(&["models", "--url", &url]).await;
        table = stdout;
        let state = |name: &str, state: &str| {
            table
                .lines()
                .any(|l| l.starts_with(&format!("{name} ")) && l.contains(&format!(" {state} ")))
        };
        if code == 1 && state("late:1b", "failed") && state("nomic-embed-text", "ready") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tiny = fake.installed_model("tinyllama").unwrap().unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with("tinyllama "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(" ready "), "{table}");
    assert!(row.contains(&tiny.digest[..12]), "{table}");
    assert!(row.contains(" yes "), "validated: {table}");
    assert!(table.contains("late:1b"), "{table}");
    assert!(
        table.contains("pull model manifest: file does not exist"),
        "{table}"
    );
    assert!(table.contains("old:7b (undeclared)"), "{table}");
    assert!(
        table.contains("2 of 3 declared models ready; 1 undeclared"),
        "{table}"
    );

    // Published upstream: sync retries at once (no waiting out the hour).
    fake.publish(CatalogModel::new("late:1b").model_size(1_000));
    let (code, stdout, stderr) = hwc_ai(&["models", "sync", "--url", &url]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("3 of 3 declared models ready"), "{stdout}");
    assert!(
        stderr.contains("late:1b: ready"),
        "plain progress lines: {stderr}"
    );

    let (code, stdout, _) = hwc_ai(&["models", "--url", &url, "--json"]).await;
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["models"][2]["name"], "late:1b");
    assert_eq!(doc["models"][2]["valid"], true);

    puller.shutdown.trigger();
    let (code, _, stderr) = hwc_ai(&["models", "--url", "http://127.0.0.1:1"]).await;
    assert_eq!(code, 2, "{stderr}");
}

/// A process that cannot open the descriptors an async runtime needs
/// (`ulimit -n 4`: stdin, stdout, stderr and one more) gets a one-line
/// reason and exit 2, not a panic. Descriptors the test's own parent may
/// have left open are closed first, so the limit means the same anywhere.
#[test]
fn no_runtime_is_a_clear_error() {
    let script = r#"for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
ulimit -n 4 && exec "$0" "$1" --url http://127.0.0.1:9"#;
    for command in ["models", "status"] {
        let out = std::process::Command::new("bash")
            .args(["-c", script, support::BIN, command])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "hwc-ai {command}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "hwc-ai {command}: cannot start the async runtime: "
            )),
            "hwc-ai {command}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "hwc-ai {command}: {stderr}");
    }
}
