//! A workflow's `mcpTools` through the real MCP gateway (hwc-ai-mcp, in
//! this process) in front of a real stdio MCP server (a python3 process):
//! the assistant calls each declared tool with its key and arguments, the
//! result is put before the prompt the model gets, the call is audited;
//! a tool the server lacks is a note of the run, named; a bad declaration
//! fails the config, naming the field.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::Json;
use hwc_ai_test_support::Embedded;
use serde_json::{json, Value};

/// A model server that answers "Noted." and keeps every request.
async fn model() -> (Arc<Mutex<Vec<Value>>>, String) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(
                |State(seen): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>| async move {
                    seen.lock().unwrap().push(body);
                    Json(json!({"choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "Noted."}}]}))
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, url)
}

fn parse(doc: Value) -> Result<hwc_ai_assistant::Config, String> {
    hwc_ai_runtime::config::parse(&doc.to_string()).map_err(|e| e.to_string())
}

#[test]
fn bad_mcp_declarations_name_the_field() {
    let with = |tools: Value, kind: &str| {
        let mut w = json!({"kind": kind, "output": {"journal": true}, "mcpTools": tools});
        if kind == "prompt" {
            w["prompt"] = json!("hi");
        }
        parse(json!({"stateDirectory": "/var/lib/a", "workflows": {"w": w}})).unwrap_err()
    };
    let cases = [
        (
            with(json!([{"server": "../x", "tool": "t"}]), "prompt"),
            "workflows.w.mcpTools[0].server",
        ),
        (
            with(
                json!([{"server": "s", "tool": "t", "arguments": [1]}]),
                "prompt",
            ),
            "workflows.w.mcpTools[0].arguments",
        ),
        (
            with(json!([{"server": "s", "tool": "t"}]), "journal"),
            "workflows.w.mcpTools",
        ),
        (
            with(json!([{"server": "s", "tool": "t", "args": {}}]), "prompt"),
            "args",
        ),
    ];
    for (error, field) in cases {
        assert!(error.contains(field), "{field}: {error}");
    }
    let error =
        parse(json!({"stateDirectory": "/var/lib/a", "mcp": {"url": "ftp://gw"}})).unwrap_err();
    assert!(error.contains("mcp.url"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_are_called_through_the_gateway_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gateway.key"), "k-assistant-for-gateway\n").unwrap();
    let echo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../checks/debian-vm/guest/mcp-echo-server.py"
    );
    let gateway_config: hwc_ai_mcp::Config = hwc_ai_runtime::config::parse(
        &json!({
            "clients": {"allowUnauthenticatedLoopback": false,
                        "keys": [{"name": "assistant", "key": {"file": dir.path().join("gateway.key")}}]},
            "servers": [{"name": "echo", "command": "python3", "args": [echo]}],
        })
        .to_string(),
    )
    .unwrap();
    let gateway = Embedded::start(|ctx| hwc_ai_mcp::run(gateway_config, ctx));
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let entry: Value = match http
            .get(format!("{}/servers/echo", gateway.url))
            .bearer_auth("k-assistant-for-gateway")
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if entry["state"] == "up" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "echo: {entry}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (seen, model_url) = model().await;
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    let config = parse(json!({
        "stateDirectory": dir.path().join("state"),
        "router": {"url": model_url, "model": "smol"},
        "tools": ["disk_usage"],
        "mcp": {"url": gateway.url, "apiKey": {"file": dir.path().join("gateway.key")}},
        "workflows": {
            "backups": {"kind": "prompt", "prompt": "Say whether the backup ran.",
                        "mcpTools": [{"server": "echo", "tool": "echo",
                                      "arguments": {"text": "backup finished at 03:12"}}],
                        "output": {"directory": dir.path().join("notes")}},
            "missing": {"kind": "prompt", "prompt": "Say hi.",
                        "mcpTools": [{"server": "echo", "tool": "nope"}],
                        "output": {"journal": true}},
        },
    }))
    .unwrap();
    let assistant = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let run = |name: &str| {
        let http = http.clone();
        let url = format!("{}/v1/workflows/{name}/run", assistant.url);
        async move {
            let r = http.post(url).json(&json!({})).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    let described: Value = http
        .get(format!("{}/v1/workflows/backups", assistant.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        described["mcpTools"],
        json!([{"server": "echo", "tool": "echo", "arguments": {"text": "backup finished at 03:12"}}])
    );

    let (status, body) = run("backups").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["tools"], json!(["mcp:echo/echo"]), "{body}");
    assert_eq!(body["notes"], json!([]), "{body}");
    let prompt = seen.lock().unwrap()[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        prompt,
        "Tool `mcp:echo/echo` says:\n\"backup finished at 03:12\"\n\nSay whether the backup ran."
    );
    let file = body["files"][0].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(file).unwrap(), "Noted.\n");

    // A tool the server does not have: the run goes on, the note names it.
    let (status, body) = run("missing").await;
    assert_eq!(status, 200, "{body}");
    let note = body["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("`mcp:echo/nope` failed") && note.contains("404") && note.contains("nope"),
        "{body}"
    );

    let rows = hwc_ai_assistant::audit::tail_file(&dir.path().join("state/audit.db"), 100).unwrap();
    let calls: Vec<(String, String)> = rows
        .iter()
        .filter(|r| {
            r.entry
                .tool
                .as_deref()
                .is_some_and(|t| t.starts_with("mcp:"))
        })
        .map(|r| (r.entry.tool.clone().unwrap(), r.entry.outcome.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            ("mcp:echo/echo".to_owned(), "ok".to_owned()),
            ("mcp:echo/nope".to_owned(), "error".to_owned())
        ]
    );
    // The gateway counted the call as the assistant's.
    let metrics = http
        .get(format!("{}/metrics", gateway.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hwc_ai_mcp_tool_calls_total{")
                && l.contains("server=\"echo\"")
                && l.contains("tool=\"echo\"")
                && l.contains("outcome=\"ok\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
}
