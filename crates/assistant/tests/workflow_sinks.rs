//! Where a workflow's result goes besides files: a webhook (the result as
//! JSON) and an ntfy topic (its text, titled, with a priority and a
//! token), both checked against a receiver on loopback. A sink that fails
//! is a note when the result went elsewhere and the run's error when it
//! went nowhere; the token is read at start (a missing file names the
//! field) and never shown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hwc_ai_runtime::{Context, Shutdown};
use hwc_ai_test_support::Embedded;
use serde_json::{json, Value};

/// What the receiver was sent: path, headers of interest, body.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    header: std::collections::BTreeMap<String, String>,
    body: String,
}

/// An HTTP receiver on loopback: `/fail` answers 500, anything else 200.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/{path}",
            axum::routing::post(
                |State(seen): State<Arc<Mutex<Vec<Received>>>>,
                 Path(path): Path<String>,
                 headers: HeaderMap,
                 body: String| async move {
                    let header = [
                        "title",
                        "priority",
                        "markdown",
                        "authorization",
                        "content-type",
                    ]
                    .iter()
                    .filter_map(|h| {
                        let v = headers.get(*h)?.to_str().ok()?;
                        Some((h.to_string(), v.to_owned()))
                    })
                    .collect();
                    let fail = path == "fail";
                    seen.lock().unwrap().push(Received { path, header, body });
                    if fail {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// A port nothing listens on: the model is down, the journal is written
/// from the tools alone.
fn closed() -> String {
    format!("http://{}", hwc_ai_test_support::free_addr())
}

fn config(dir: &std::path::Path, workflows: Value) -> hwc_ai_assistant::Config {
    let doc = json!({
        "stateDirectory": dir.join("state"),
        "router": {"url": closed(), "model": "smol"},
        "agent": {"budget": "5s"},
        "tools": ["disk_usage", "alerts"],
        "workflows": workflows,
    });
    hwc_ai_runtime::config::parse(&doc.to_string()).unwrap()
}

async fn start(config: hwc_ai_assistant::Config) -> (SocketAddr, Shutdown) {
    let assistant = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    for _ in 0..100 {
        if reqwest::get(format!("{}/health", assistant.url))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (assistant.addr, assistant.shutdown)
}

async fn run(addr: SocketAddr, name: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/v1/workflows/{name}/run"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn journal(output: Value) -> Value {
    json!({"kind": "journal", "tools": ["disk_usage", "alerts"], "output": output})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_reaches_a_webhook_and_an_ntfy_topic() {
    let (url, seen) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let token = "tk_s3cr3t-for-the-topic";
    std::fs::write(dir.path().join("ntfy.token"), format!("{token}\n")).unwrap();
    let (addr, shutdown) = start(config(
        dir.path(),
        json!({
            "daily": journal(json!({
                "webhook": format!("{url}/hook"),
                "ntfy": {"url": format!("{url}/homelab"), "priority": 4,
                         "token": {"file": dir.path().join("ntfy.token")}}})),
        }),
    ))
    .await;

    let (status, body) = run(addr, "daily").await;
    assert_eq!(status, 200, "{body}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");

    let hook = seen.iter().find(|r| r.path == "hook").unwrap();
    assert_eq!(hook.header["content-type"], "application/json");
    let sent: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(sent["workflow"], "daily");
    assert_eq!(sent["run"], body["run"]);
    assert!(
        sent["message"].as_str().unwrap().starts_with("# Journal "),
        "{sent}"
    );

    let ntfy = seen.iter().find(|r| r.path == "homelab").unwrap();
    assert_eq!(ntfy.header["title"], "hwc-ai workflow daily");
    assert_eq!(ntfy.header["priority"], "4");
    assert_eq!(ntfy.header["markdown"], "yes");
    assert_eq!(ntfy.header["authorization"], format!("Bearer {token}"));
    assert_eq!(ntfy.body, body["content"].as_str().unwrap());
    assert!(ntfy.body.contains("## Disks"), "{}", ntfy.body);

    // The describe API shows the topic, never the token.
    let described = reqwest::get(format!("http://{addr}/v1/workflows/daily"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(described.contains("/homelab"), "{described}");
    assert!(
        !described.contains(token) && !described.contains("ntfy.token"),
        "{described}"
    );
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sink_is_a_note_or_the_runs_error() {
    let (url, _seen) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    let (addr, shutdown) = start(config(
        dir.path(),
        json!({
            // the topic answers 500 and nothing else is declared: the run fails
            "only-ntfy": journal(json!({"ntfy": {"url": format!("{url}/fail")}})),
            // the note is written: the run succeeds and says what failed
            "with-file": journal(json!({"directory": dir.path().join("notes"),
                                        "ntfy": {"url": format!("{url}/fail")},
                                        "webhook": closed()})),
        }),
    ))
    .await;

    let (status, body) = run(addr, "only-ntfy").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["kind"], "output_unavailable", "{body}");
    assert_eq!(
        body["error"]["message"], "ntfy answered 500 Internal Server Error",
        "{body}"
    );

    let (status, body) = run(addr, "with-file").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"].as_array().unwrap().len(), 1, "{body}");
    let notes = body["notes"].to_string();
    assert!(notes.contains("ntfy answered 500"), "{notes}");
    assert!(
        notes.contains("the webhook could not be reached"),
        "{notes}"
    );
    shutdown.trigger();
}

#[test]
fn ntfy_declarations_are_checked() {
    let parse = |ntfy: Value| {
        hwc_ai_runtime::config::parse::<hwc_ai_assistant::Config>(
            &json!({"stateDirectory": "/var/lib/a", "tools": ["disk_usage"],
                    "workflows": {"daily": {"kind": "journal", "output": {"ntfy": ntfy}}}})
            .to_string(),
        )
        .map(|_| ())
    };
    assert!(parse(json!({"url": "https://ntfy.sh/homelab", "priority": 5})).is_ok());
    let error = |ntfy: Value| parse(ntfy).unwrap_err().to_string();
    let e = error(json!({"url": "https://ntfy.sh/"}));
    assert!(
        e.contains("workflows.daily.output.ntfy.url") && e.contains("does not name one topic"),
        "{e}"
    );
    let e = error(json!({"url": "https://ntfy.sh/a", "priority": 9}));
    assert!(
        e.contains("workflows.daily.output.ntfy.priority") && e.contains("1 (min) to 5 (max)"),
        "{e}"
    );
    let e = error(json!({"url": "ftp://ntfy.sh/a"}));
    assert!(e.contains("is not an http(s) URL"), "{e}");
    let e = error(json!({"url": "https://ntfy.sh/a", "token": {"file": "relative"}}));
    assert!(e.contains("workflows.daily.output.ntfy.token.file"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_stops_the_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        json!({"daily": journal(json!({"ntfy": {"url": "http://127.0.0.1:9/homelab",
                                                 "token": {"file": dir.path().join("absent")}}}))}),
    );
    let shutdown = Shutdown::new();
    let error = hwc_ai_assistant::run(config, Context::embedded(shutdown))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("workflows.daily.output.ntfy.token") && error.contains("absent"),
        "{error}"
    );
}
