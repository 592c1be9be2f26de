//! `hwc-ai workflow` against the assistant run in this process: list,
//! run with `--input`, a file-triage `--apply`, runs, and the exit
//! statuses of a failed run and of an assistant that is not there.

use std::process::Command;

use hwc_ai_test_support::Embedded;
use serde_json::json;

fn hwc_ai(url: &str, key: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hwc-ai"))
        .arg("workflow")
        .args(args)
        .args(["--url", url, "--key-file", key.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_run_apply_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s);
    for d in ["inbox", "documents"] {
        std::fs::create_dir(p(d)).unwrap();
    }
    std::fs::write(p("inbox/invoice.pdf"), b"%PDF-1.4").unwrap();
    std::fs::write(p("key"), "k-ops\n").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(
        &json!({
            "stateDirectory": p("state"),
            "router": {"url": format!("http://{closed}")},
            "agent": {"budget": "3s"},
            "clients": {"keys": [{"name": "ops", "key": {"file": p("key")}}]},
            "workflows": {
                "sort": {"kind": "file-triage", "inbox": p("inbox"),
                         "destinations": {"docs": {"directory": p("documents"), "types": ["pdf"]}}},
                "ask": {"kind": "prompt", "prompt": "About {{topic}} in {{n}} lines",
                        "inputs": {"type": "object", "properties": {"topic": {"type": "string"}, "n": {"type": "integer"}}},
                        "output": {"journal": true}, "schedule": "daily"}
            }
        })
        .to_string(),
    )
    .unwrap();
    let assistant = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let url = assistant.url.clone();
    let key = p("key");
    let run = |args: Vec<&'static str>| {
        let (url, key) = (url.clone(), key.clone());
        tokio::task::spawn_blocking(move || hwc_ai(&url, &key, &args))
    };
    let mut listed = (0, String::new(), String::new());
    for _ in 0..50 {
        listed = run(vec!["list"]).await.unwrap();
        if listed.0 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (code, out, err) = listed;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ask") && l.contains("prompt") && l.contains("daily")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("sort") && l.contains("file-triage")),
        "{out}"
    );

    let (code, out, err) = run(vec!["run", "sort", "--apply"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| `invoice.pdf` | docs |"), "{out}");
    assert!(p("documents/invoice.pdf").exists() && !p("inbox/invoice.pdf").exists());

    // Inputs that fail the schema: each error shown, exit 1.
    let (code, _, err) = run(vec![
        "run",
        "ask",
        "--input",
        "topic=disks",
        "--input",
        "n=two",
    ])
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("/n:"), "{err}");
    // Valid inputs, the model down: exit 1, said.
    let (code, _, err) = run(vec!["run", "ask", "-i", "topic=disks", "-i", "n=2"])
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("model is not available"), "{err}");

    let (code, out, _) = run(vec!["runs"]).await.unwrap();
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("ask") && lines[0].contains("error (model_unavailable)"),
        "{out}"
    );
    assert!(
        lines[1].contains("sort") && lines[1].ends_with(" ok"),
        "{out}"
    );

    assistant.shutdown.trigger();
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, err) =
        tokio::task::spawn_blocking(move || hwc_ai(&format!("http://{gone}"), &key, &["list"]))
            .await
            .unwrap();
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach the assistant"), "{err}");
}
