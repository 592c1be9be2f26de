//! The docs repository against a real git repository on disk: fetched
//! into the state directory at start, read by `docs_search` as
//! `repository/...`, and followed on its interval (an edit appears, a
//! removed runbook goes), with the repository left as it was.

mod infra;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use infra::Assistant;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `docs_search` (list) until `done` holds, for a few seconds.
async fn until(a: &Assistant, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..50 {
        let (_, list) = a.tool("docs_search", json!({})).await;
        if done(&list) {
            return list;
        }
        last = list;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not in sync: {last}");
}

#[tokio::test]
async fn the_docs_repository_is_fetched_and_followed() {
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("runbooks.git");
    std::fs::create_dir(&bare).unwrap();
    git(&bare, &["init", "-q", "--bare", "-b", "main"]);
    let work = root.path().join("work");
    std::fs::create_dir_all(work.join("storage")).unwrap();
    std::fs::write(
        work.join("storage/backup.md"),
        "# Backup\nRestic runs at 02:00.\n",
    )
    .unwrap();
    std::fs::write(work.join("old.md"), "# Old\nSoon gone.\n").unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "runbooks"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);

    let a = Assistant::start_section(
        "docsRepository",
        "http://127.0.0.1:9",
        json!({"url": format!("file://{}", bare.display()), "interval": "300ms"}),
    )
    .await;
    let list = until(&a, |l| l["files"].as_array().is_some_and(|f| !f.is_empty())).await;
    assert_eq!(
        list["files"],
        json!(["repository/old.md", "repository/storage/backup.md"])
    );
    let (_, found) = a.tool("docs_search", json!({"query": "restic"})).await;
    assert_eq!(found["matches"][0]["file"], "repository/storage/backup.md");

    std::fs::write(
        work.join("storage/backup.md"),
        "# Backup\nRestic runs at 03:30 now.\n",
    )
    .unwrap();
    git(&work, &["rm", "-q", "old.md"]);
    git(&work, &["commit", "-q", "-am", "later backups"]);
    let pushed = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    until(&a, |l| {
        l["files"] == json!(["repository/storage/backup.md"])
    })
    .await;
    let (_, read) = a
        .tool(
            "docs_search",
            json!({"file": "repository/storage/backup.md"}),
        )
        .await;
    assert!(read["text"].as_str().unwrap().contains("03:30"), "{read}");
    // Fetched, never pushed to.
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed);
    assert_eq!(
        git(&bare, &["for-each-ref", "--format=%(refname)"]),
        "refs/heads/main\n"
    );
}

#[tokio::test]
async fn a_repository_that_cannot_be_fetched_is_named() {
    let root = tempfile::tempdir().unwrap();
    let a = Assistant::start_section(
        "docsRepository",
        "http://127.0.0.1:9",
        json!({"url": format!("file://{}/absent.git", root.path().display()), "interval": "1h"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, body) = a.tool("docs_search", json!({})).await;
    assert_eq!(s, 503, "{body}");
    assert!(
        body.to_string().contains("has not been fetched yet"),
        "{body}"
    );
}
