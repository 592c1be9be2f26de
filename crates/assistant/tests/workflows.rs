//! Workflows over HTTP, in this process: each built-in kind produces its
//! file, schema-checked output goes through the real router's `/execute`
//! in front of the fake Ollama, bad input gets a clear error and writes
//! nothing, every run is audited, and file-triage's apply step touches
//! only declared directories, deletes nothing, refuses escapes and is
//! undone by its undo log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::Json;
use hwc_ai_ollama_fake::FakeOllama;
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

/// A model server that answers from a script and keeps every request.
#[derive(Clone, Default)]
struct Model {
    script: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Model {
    async fn start(script: Vec<&str>) -> (Self, String) {
        let model = Model {
            script: Arc::new(Mutex::new(script.into_iter().map(str::to_owned).collect())),
            seen: Arc::default(),
        };
        let app = axum::Router::new()
            .route(
                "/v1/chat/completions",
                axum::routing::post(|State(m): State<Model>, Json(body): Json<Value>| async move {
                    m.seen.lock().unwrap().push(body);
                    let mut script = m.script.lock().unwrap();
                    let content = if script.is_empty() { "(script ended)".to_owned() } else { script.remove(0) };
                    Json(json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}))
                }),
            )
            .with_state(model.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (model, url)
    }
}

/// A port nothing listens on.
fn closed() -> String {
    format!("http://{}", free_addr())
}

struct Assistant {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    _daemon: Embedded,
    client: reqwest::Client,
}

impl Assistant {
    /// `workflows` may name paths under `@` (the test's temp dir).
    async fn start(router_url: &str, workflows: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ops.key"), "k-ops\n").unwrap();
        let workflows: Value = serde_json::from_str(
            &workflows
                .to_string()
                .replace('@', dir.path().to_str().unwrap()),
        )
        .unwrap();
        let doc = json!({
            "stateDirectory": dir.path().join("state"),
            "router": {"url": router_url, "model": "smol"},
            "agent": {"budget": "5s"},
            "tools": ["disk_usage", "system_overview", "alerts"],
            "clients": {"allowUnauthenticatedLoopback": false, "keys": [
                {"name": "ops", "key": {"file": dir.path().join("ops.key")}}
            ]},
            "workflows": workflows,
        });
        let config: hwc_ai_assistant::Config =
            hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
        let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
        let addr = daemon.addr;
        let a = Self {
            addr,
            dir,
            _daemon: daemon,
            client: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if a.client.get(a.url("/health")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth("k-ops")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth("k-ops")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn run(&self, name: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/v1/workflows/{name}/run"), body).await
    }

    fn audit(&self) -> Vec<hwc_ai_assistant::audit::Row> {
        hwc_ai_assistant::audit::tail_file(&self.path("state/audit.db"), 1000).unwrap()
    }
}

/// Every file under `dir` (relative path → content), symlinks as `->target`.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let meta = p.symlink_metadata().unwrap();
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("->{}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    rel,
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(),
                );
            }
        }
    }
    out
}

#[test]
fn config_errors_name_the_field() {
    let parse = |workflows: Value| {
        hwc_ai_runtime::config::parse::<hwc_ai_assistant::Config>(
            &json!({"stateDirectory": "/var/lib/a", "tools": ["disk_usage"], "workflows": workflows}).to_string(),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    let cases = [
        (
            json!({"w": {"kind": "prompt", "output": {"journal": true}}}),
            "workflows.w.prompt",
        ),
        (
            json!({"w": {"kind": "prompt", "prompt": "{{x}}", "output": {"journal": true}}}),
            "workflows.w.prompt: `{{x}}`",
        ),
        (
            json!({"w": {"kind": "prompt", "prompt": "hi", "output": {}}}),
            "workflows.w.output",
        ),
        (
            json!({"w": {"kind": "prompt", "prompt": "hi", "inputs": {"type": "string"}, "output": {"journal": true}}}),
            "workflows.w.inputs",
        ),
        (
            json!({"w": {"kind": "prompt", "prompt": "hi", "outputSchema": {"type": 7}, "output": {"journal": true}}}),
            "workflows.w.outputSchema",
        ),
        (
            json!({"w": {"kind": "prompt", "prompt": "hi", "tools": ["alerts"], "output": {"journal": true}}}),
            "workflows.w.tools[0]",
        ),
        (
            json!({"w": {"kind": "journal", "output": {"directory": "notes"}}}),
            "workflows.w.output.directory",
        ),
        (
            json!({"w": {"kind": "journal", "output": {"journal": true}, "inbox": "/srv/in"}}),
            "workflows.w.inbox",
        ),
        (
            json!({"w": {"kind": "auto-doc", "output": {"directory": "/srv/docs"}}}),
            "workflows.w.source",
        ),
        (
            json!({"w": {"kind": "auto-doc", "source": "/etc/nixos", "output": {"directory": "/etc/nixos/docs"}}}),
            "workflows.w.output.directory",
        ),
        (
            json!({"w": {"kind": "file-triage", "inbox": "/srv/in", "destinations": {"d": {"directory": "/srv/in/d", "types": ["pdf"]}}}}),
            "workflows.w.destinations.d.directory",
        ),
        (
            json!({"w": {"kind": "file-triage", "inbox": "/srv/in", "destinations": {"d": {"directory": "/srv/d", "types": ["pdff"]}}}}),
            "workflows.w.destinations.d.types[0]",
        ),
        (
            json!({"w": {"kind": "file-triage", "inbox": "/srv/../in", "destinations": {}}}),
            "workflows.w.inbox",
        ),
        (json!({"w": {"kind": "chat"}}), "workflows.w.kind"),
        (
            json!({"w": {"kind": "journal", "output": {"journal": true}, "typo": 1}}),
            "typo",
        ),
    ];
    for (workflows, expected) in cases {
        let error = parse(workflows.clone());
        assert!(error.contains(expected), "{workflows}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_workflow_writes_its_answer_and_every_run_is_audited() {
    let (model, url) = Model::start(vec!["All disks are fine."]).await;
    let a = Assistant::start(
        &url,
        json!({
            "disks": {"kind": "prompt", "prompt": "Report on {{topic}} in {{lines}} lines.",
                      "inputs": {"type": "object", "required": ["topic"], "additionalProperties": false,
                                 "properties": {"topic": {"type": "string"}, "lines": {"type": "integer"}}},
                      "model": "reporter", "tools": ["disk_usage"], "output": {"directory": "@/out"}},
            "nowhere": {"kind": "prompt", "prompt": "hi", "output": {"directory": "@/missing"}},
        }),
    )
    .await;
    std::fs::create_dir(a.path("out")).unwrap();

    let (status, list) = a.get("/v1/workflows").await;
    assert_eq!(status, 200);
    assert_eq!(list["workflows"][0]["name"], "disks");
    let (_, described) = a.get("/v1/workflows/disks").await;
    assert_eq!(described["inputs"]["required"], json!(["topic"]));

    let (status, body) = a
        .run("disks", json!({"inputs": {"topic": "disks", "lines": 2}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"], "All disks are fine.");
    let file = body["files"][0].as_str().unwrap();
    assert!(file.starts_with(a.path("out").to_str().unwrap()), "{file}");
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        "All disks are fine.\n"
    );
    let request = model.seen.lock().unwrap()[0].clone();
    assert_eq!(request["model"], "reporter");
    assert_eq!(
        request["messages"][1]["content"],
        "Report on disks in 2 lines."
    );
    let offered: Vec<&str> = request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        offered,
        ["disk_usage"],
        "only the workflow's tools are offered"
    );

    // Bad input: each a clear error, nothing written.
    let (status, body) = a.run("nope", json!({})).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (404, Some("workflow_not_found"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`nope`"));
    let (status, body) = a.run("disks", json!({"inputs": {"lines": "two"}})).await;
    assert_eq!(status, 400, "{body}");
    let errors = body["error"]["validationErrors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e.as_str().unwrap().contains("topic")),
        "{body}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("/lines")),
        "{body}"
    );
    let (status, body) = a.run("disks", json!({"input": {}})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = a.run("nowhere", json!({})).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["kind"], "output_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(a.path("missing").to_str().unwrap()),
        "{body}"
    );
    assert_eq!(
        model.seen.lock().unwrap().len(),
        1,
        "no model was asked for a run that cannot write"
    );

    // The model down: 503, nothing written.
    let down = Assistant::start(
        &closed(),
        json!({"w": {"kind": "prompt", "prompt": "hi", "output": {"directory": "@/out"}}}),
    )
    .await;
    std::fs::create_dir(down.path("out")).unwrap();
    let (status, body) = down.run("w", json!({})).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (503, Some("model_unavailable")),
        "{body}"
    );
    assert!(tree(&down.path("out")).is_empty());

    // A row per run, with the inputs' digest, not the inputs.
    let rows: Vec<_> = a
        .audit()
        .into_iter()
        .filter(|r| r.entry.intent.as_deref() == Some("workflow"))
        .collect();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.entry.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "ok",
            "workflow_not_found",
            "invalid_inputs",
            "output_unavailable"
        ]
    );
    assert_eq!(rows[0].entry.request, "workflow disks");
    assert!(rows[0]
        .entry
        .arguments
        .as_deref()
        .unwrap()
        .contains("inputsSha256"));
    assert!(!rows[0]
        .entry
        .arguments
        .as_deref()
        .unwrap()
        .contains("disks\""));
    assert!(matches!(
        hwc_ai_assistant::audit::verify(&a.path("state/audit.db")).unwrap(),
        hwc_ai_assistant::audit::Verdict::Intact { .. }
    ));

    let (_, runs) = a.get("/v1/workflows/runs").await;
    let statuses: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "ok"], "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_checked_output_goes_through_the_routers_execute() {
    let fake = FakeOllama::builtin();
    fake.install("llama3.2:3b").unwrap();
    let ollama = fake.spawn().await.unwrap();
    let router: hwc_ai_router::Config = hwc_ai_runtime::config::parse(
        &json!({"backends": [{"name": "ollama", "kind": "openai-compatible", "baseUrl": format!("{}/v1", ollama.url())}],
                "routes": [{"model": "*", "targets": [{"backend": "ollama"}]}]})
        .to_string(),
    )
    .unwrap();
    let router = Embedded::start(|ctx| hwc_ai_router::run(router, ctx));
    let router_url = router.url.clone();
    let schema = json!({"type": "object", "required": ["colour", "count"],
                        "properties": {"colour": {"type": "string"}, "count": {"type": "integer"}}});
    let a = Assistant::start(
        &router_url,
        json!({"colour": {"kind": "prompt", "prompt": "Name a colour for {{thing}}",
                          "inputs": {"type": "object", "properties": {"thing": {"type": "string"}}},
                          "model": "llama3.2:3b", "outputSchema": schema, "output": {"directory": "@/out"}}}),
    )
    .await;
    std::fs::create_dir(a.path("out")).unwrap();
    let mut answer = (0, Value::Null);
    for _ in 0..50 {
        answer = a
            .run("colour", json!({"inputs": {"thing": "a boat"}}))
            .await;
        if answer.0 != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = answer;
    assert_eq!(status, 200, "{body}");
    let file = body["files"][0].as_str().unwrap();
    assert!(file.ends_with(".json"), "{file}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert!(jsonschema::is_valid(&schema, &written), "{written}");
    assert_eq!(body["data"], written);
    router.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_written_from_the_tools_with_or_without_a_model() {
    let journal = json!({"daily": {"kind": "journal", "tools": ["disk_usage", "alerts"], "output": {"directory": "@/notes"}}});
    // No model: the digest from the tools' data, saying there is no summary.
    let a = Assistant::start(&closed(), journal.clone()).await;
    std::fs::create_dir(a.path("notes")).unwrap();
    let (status, body) = a.run("daily", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let file = body["files"][0].as_str().unwrap();
    let date = &humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10];
    assert!(file.ends_with(&format!("daily-{date}.md")), "{file}");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.starts_with(&format!("# Journal {date}")), "{text}");
    assert!(text.contains("## Disks\n\n- /"), "{text}");
    assert!(text.contains("## Alerts"), "{text}");
    assert!(
        text.contains("No summary: the model was not available"),
        "{text}"
    );
    // A model: its summary on top.
    let (_, url) = Model::start(vec!["The root filesystem has room; no alerts."]).await;
    let b = Assistant::start(&url, journal).await;
    std::fs::create_dir(b.path("notes")).unwrap();
    let (status, body) = b.run("daily", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let text = std::fs::read_to_string(body["files"][0].as_str().unwrap()).unwrap();
    assert!(
        text.contains("\n\nThe root filesystem has room; no alerts.\n"),
        "{text}"
    );
    assert!(!text.contains("No summary"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_doc_writes_a_readme_per_folder_and_reads_only_its_source() {
    let (model, url) = Model::start(vec!["The top folder.", "The lib folder."]).await;
    let a = Assistant::start(
        &url,
        json!({"docs": {"kind": "auto-doc", "source": "@/repo", "output": {"directory": "@/docs"},
                        "inputs": {"type": "object", "properties": {"folder": {"type": "string"}}},
                        "limits": {"maxFileBytes": 16}}}),
    )
    .await;
    std::fs::create_dir_all(a.path("repo/lib")).unwrap();
    std::fs::create_dir(a.path("docs")).unwrap();
    std::fs::create_dir(a.path("secret")).unwrap();
    std::fs::write(a.path("secret/key.txt"), "TOPSECRET").unwrap();
    std::fs::write(
        a.path("repo/main.rs"),
        "fn main() { println!(\"a long line\"); }",
    )
    .unwrap();
    std::fs::write(a.path("repo/lib/util.rs"), "pub fn util() {}").unwrap();
    std::os::unix::fs::symlink(a.path("secret"), a.path("repo/out")).unwrap();

    let (status, body) = a.run("docs", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let docs = tree(&a.path("docs"));
    assert_eq!(
        docs.keys().collect::<Vec<_>>(),
        ["README.md", "lib/README.md"],
        "{docs:?}"
    );
    assert!(
        docs["README.md"].contains("The top folder.") && docs["README.md"].contains("`main.rs`")
    );
    assert!(docs["lib/README.md"].contains("The lib folder."));
    let asked = serde_json::to_string(&*model.seen.lock().unwrap()).unwrap();
    assert!(
        !asked.contains("TOPSECRET"),
        "a symlink out of the source was followed"
    );
    assert!(
        asked.contains("fn main() { prin") && !asked.contains("a long line"),
        "maxFileBytes"
    );

    for folder in ["../secret", "/etc", "out"] {
        let (status, body) = a.run("docs", json!({"inputs": {"folder": folder}})).await;
        assert_eq!(
            (status, body["error"]["kind"].as_str()),
            (400, Some("path_refused")),
            "{folder}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_triage_moves_only_between_declared_directories_and_undo_restores() {
    let a = Assistant::start(
        &closed(),
        json!({"sort": {"kind": "file-triage", "inbox": "@/inbox", "output": {"directory": "@/plans"},
                        "destinations": {
                            "documents": {"directory": "@/documents", "types": ["pdf"], "nameContains": ["invoice"]},
                            "pictures": {"directory": "@/pictures", "extensions": ["jpg"], "types": ["image"]}}}}),
    )
    .await;
    for d in ["inbox", "documents", "pictures", "plans", "elsewhere"] {
        std::fs::create_dir(a.path(d)).unwrap();
    }
    std::fs::write(a.path("inbox/scan.bin"), b"%PDF-1.7 a scan").unwrap();
    std::fs::write(a.path("inbox/invoice-march.txt"), "total: 12").unwrap();
    std::fs::write(a.path("inbox/cat.png"), b"\x89PNG\r\n\x1a\n....").unwrap();
    std::fs::write(a.path("inbox/holiday.jpg"), b"not really a jpeg").unwrap();
    std::fs::write(a.path("inbox/notes.md"), "# notes").unwrap();
    std::fs::write(a.path("elsewhere/private.pdf"), b"%PDF private").unwrap();
    std::os::unix::fs::symlink(a.path("elsewhere/private.pdf"), a.path("inbox/link.pdf")).unwrap();
    // A file of the same name already at the destination is never replaced.
    std::fs::write(a.path("pictures/holiday.jpg"), "the older holiday").unwrap();
    let root = a.dir.path().to_path_buf();
    let before = |t: &std::collections::BTreeMap<String, String>| {
        t.iter()
            .filter(|(k, _)| {
                !k.starts_with("state/") && !k.starts_with("plans/") && *k != "ops.key"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let original = before(&tree(&root));

    // A plan only: nothing moves.
    let (status, body) = a.run("sort", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(before(&tree(&root)), original);
    let plan: Vec<(String, Value)> = body["data"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap().to_owned(),
                i["destination"].clone(),
            )
        })
        .collect();
    assert_eq!(
        plan,
        [
            ("cat.png".into(), json!("pictures")),
            ("holiday.jpg".into(), json!("pictures")),
            ("invoice-march.txt".into(), json!("documents")),
            ("link.pdf".into(), Value::Null),
            ("notes.md".into(), Value::Null),
            ("scan.bin".into(), json!("documents")),
        ]
    );
    assert!(body["content"]
        .as_str()
        .unwrap()
        .contains("| `link.pdf` | (stays) | a symlink"));
    assert_eq!(tree(&a.path("plans")).len(), 1, "the plan is written");

    // Apply: moves in order until holiday.jpg, which would replace a file.
    let (status, body) = a.run("sort", json!({"apply": true})).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holiday.jpg"),
        "{body}"
    );
    let run = body["run"].as_str().unwrap().to_owned();
    let after = before(&tree(&root));
    assert_eq!(after["pictures/cat.png"], original["inbox/cat.png"]);
    assert_eq!(after["pictures/holiday.jpg"], "the older holiday");
    assert_eq!(after["inbox/holiday.jpg"], "not really a jpeg");
    assert_eq!(after["elsewhere/private.pdf"], "%PDF private");
    assert!(after["inbox/link.pdf"].starts_with("->"));
    assert_eq!(
        after.len(),
        original.len(),
        "nothing deleted, nothing copied"
    );

    // Once the name is free, the rest moves; the undo logs restore the layout.
    std::fs::rename(
        a.path("pictures/holiday.jpg"),
        a.path("elsewhere/old-holiday.jpg"),
    )
    .unwrap();
    let (status, body) = a.run("sort", json!({"apply": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["moves"].as_array().unwrap().len(), 3);
    let moved = before(&tree(&root));
    for f in [
        "documents/scan.bin",
        "documents/invoice-march.txt",
        "pictures/holiday.jpg",
        "pictures/cat.png",
        "inbox/notes.md",
        "inbox/link.pdf",
    ] {
        assert!(moved.contains_key(f), "{f}: {moved:?}");
    }
    let second = body["run"].as_str().unwrap().to_owned();
    for id in [&second, &run] {
        let (status, body) = a
            .post(&format!("/v1/workflows/runs/{id}/undo"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    std::fs::rename(
        a.path("elsewhere/old-holiday.jpg"),
        a.path("pictures/holiday.jpg"),
    )
    .unwrap();
    assert_eq!(
        before(&tree(&root)),
        original,
        "undo restores the original layout"
    );
    let (status, _) = a
        .post("/v1/workflows/runs/..%2F..%2Fops/undo", json!({}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_runs_and_the_tool_server() {
    let (_, url) = Model::start(vec!["one", "two"]).await;
    let a = Assistant::start(
        &url,
        json!({"greet": {"kind": "prompt", "prompt": "Greet {{who}}", "description": "Greets someone",
                         "inputs": {"type": "object", "properties": {"who": {"type": "string"}}},
                         "output": {"journal": true}}}),
    )
    .await;
    let (status, body) = a
        .post(
            "/v1/workflows/greet/run?async=true",
            json!({"inputs": {"who": "you"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["run"].as_str().unwrap();
    let mut run = Value::Null;
    for _ in 0..100 {
        run = a.get(&format!("/v1/workflows/runs/{id}")).await.1;
        if run["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["result"]["content"], "one");

    let (status, spec) = a.get("/workflows/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(spec["servers"][0]["url"], "/workflows");
    let op = &spec["paths"]["/greet"]["post"];
    assert_eq!(op["description"], "Greets someone");
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["properties"]["who"]["type"],
        "string"
    );
    let (status, body) = a.post("/workflows/greet", json!({"who": "me"})).await;
    assert_eq!(
        (status, body["content"].as_str()),
        (200, Some("two")),
        "{body}"
    );
    let r = reqwest::Client::new()
        .get(a.url("/v1/workflows"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the client keys apply");
}
