//! The real `hwc-ai-puller` binary: `--check-config`, `--once` exit codes,
//! and the daemon's log lines and signals.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use hwc_ai_ollama_fake::FakeOllama;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-puller");

fn write_config(dir: &tempfile::TempDir, doc: Value) -> std::path::PathBuf {
    let path = dir.path().join("puller.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn base(ollama: &str, models: Value) -> Value {
    json!({
        "ollamaUrl": ollama,
        "models": models,
        "disk": { "path": "/", "minFree": 0 },
        "retry": { "initial": "200ms", "max": "1s" },
    })
}

async fn once(config: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("--once")
        .args(extra)
        .env_remove("NOTIFY_SOCKET")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_0_only_when_every_model_is_present_and_valid() {
    let fake = fake();
    let server = fake.spawn().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let good = write_config(
        &dir,
        base(&server.url(), json!(["tinyllama", "nomic-embed-text"])),
    );
    let (code, stdout, stderr) = once(&good, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("tinyllama\tready\t"), "{stdout}");
    assert!(stdout.contains("nomic-embed-text\tready\t"), "{stdout}");

    let bad = write_config(&dir, base(&server.url(), json!(["tinyllama", "ghost:1b"])));
    let (code, stdout, _) = once(&bad, &[]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("ghost:1b\tfailed\t-\tPOST /api/pull: HTTP 500"),
        "{stdout}"
    );

    fake.set_faults(
        "tinyllama",
        hwc_ai_ollama_fake::Faults::none().with_generate(hwc_ai_ollama_fake::Fault::always(
            hwc_ai_ollama_fake::InferenceFault::Reject(hwc_ai_ollama_fake::Failure::new(
                500,
                "out of memory",
            )),
        )),
    )
    .unwrap();
    let (code, stdout, _) = once(&good, &[]).await;
    assert_eq!(code, 1, "present but invalid is not success: {stdout}");
    assert!(stdout.contains("tinyllama\tinvalid\t"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_gives_up_on_an_absent_ollama_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let config = write_config(&dir, base(&format!("http://{addr}"), json!(["tinyllama"])));
    let started = std::time::Instant::now();
    let (code, _, stderr) = once(&config, &["--wait-for-ollama", "2s"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("did not answer"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_fail_check_config_and_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, json!({ "models": ["ok", {"name": "bad name!"}] }));
    let out = tokio::process::Command::new(BIN)
        .args(["--check-config", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("models[1].name: `bad name!` is not a model name"),
        "{stderr}"
    );
    let (code, _, _) = once(&config, &[]).await;
    assert_eq!(code, 78, "EX_CONFIG");

    let good = write_config(
        &dir,
        json!({ "models": ["llama3.2:3b", "someone/m:q4", "localhost:5000/ns/m:tag"] }),
    );
    let out = tokio::process::Command::new(BIN)
        .args(["--check-config", "--config"])
        .arg(&good)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// The daemon binary: logs `updated NAME from OLD to NEW`, reconciles on
/// SIGHUP, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_logs_updates_and_reconciles_on_sighup() {
    let fake: FakeOllama = fake();
    fake.install("tinyllama").unwrap();
    let server = fake.spawn().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr();
    let mut doc = base(
        &server.url(),
        json!([{"name": "tinyllama", "autoUpdate": true}, "late:1b"]),
    );
    doc["listen"] = json!(listen.to_string());
    // Long backoff: only SIGHUP can bring the late model in during the test.
    doc["retry"] = json!({ "initial": "1h", "max": "1h" });
    let config = write_config(&dir, doc);
    let mut child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://{listen}");
    let models = |url: String| async move {
        let resp = client().get(format!("{url}/models")).send().await.ok()?;
        resp.json::<hwc_ai_puller::ModelsDoc>().await.ok()
    };
    let wait = |what: &'static str, done: Box<dyn Fn(&hwc_ai_puller::ModelsDoc) -> bool>| {
        let url = url.clone();
        async move {
            for _ in 0..500 {
                if let Some(doc) = models(url.clone()).await {
                    if done(&doc) {
                        return doc;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("timed out waiting for {what}");
        }
    };
    let doc = wait(
        "late failed",
        Box::new(|d| {
            model(d, "tinyllama").state == hwc_ai_puller::ModelState::Ready
                && model(d, "late:1b").state == hwc_ai_puller::ModelState::Failed
        }),
    )
    .await;
    let old = model(&doc, "tinyllama").digest.clone().unwrap();

    fake.publish(hwc_ai_ollama_fake::CatalogModel::new("late:1b").model_size(1000));
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    wait("late pulled after SIGHUP", Box::new(|d| d.all_ready())).await;

    let new = fake.change_upstream("tinyllama").unwrap();
    let resp = client()
        .post(format!("{url}/reconcile?wait=true&update=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let line = format!("updated tinyllama from {} to {}", &old[..12], &new[..12]);
    assert!(stderr.contains(&line), "no `{line}` in:\n{stderr}");
    assert!(
        stderr.contains("SIGHUP received: reconciling now"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tinyllama is valid (completion answered)"),
        "{stderr}"
    );
}
