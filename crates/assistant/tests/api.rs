//! The assistant over HTTP, in this process, in front of a scripted
//! OpenAI-compatible model server: the agent loop's plumbing, refusals,
//! the direct path, sessions, streaming, keys and rate limits, and the
//! audit trail behind all of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::Json;
use hwc_ai_assistant::audit::{self, Verdict};
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

/// A model server that answers from a script, one reply per request,
/// and keeps every request body.
#[derive(Clone, Default)]
struct Model {
    script: Arc<Mutex<Vec<Value>>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Model {
    async fn start(script: Vec<Value>) -> (Self, String) {
        let model = Model {
            script: Arc::new(Mutex::new(script)),
            seen: Arc::default(),
        };
        let app = axum::Router::new()
            .route(
                "/v1/chat/completions",
                axum::routing::post(|State(m): State<Model>, Json(body): Json<Value>| async move {
                    m.seen.lock().unwrap().push(body);
                    let mut script = m.script.lock().unwrap();
                    let message = if script.is_empty() {
                        json!({"role": "assistant", "content": "(script ended)"})
                    } else {
                        script.remove(0)
                    };
                    Json(json!({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}))
                }),
            )
            .with_state(model.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (model, url)
    }

    fn requests(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

struct Assistant {
    addr: SocketAddr,
    state: tempfile::TempDir,
    daemon: Embedded,
    client: reqwest::Client,
}

impl Assistant {
    async fn start(router_url: &str, extra: Value) -> Self {
        let state = tempfile::tempdir().unwrap();
        std::fs::write(state.path().join("bot.key"), "k-bot\n").unwrap();
        std::fs::write(state.path().join("ops.key"), "k-ops\n").unwrap();
        let mut doc = json!({
            "stateDirectory": state.path().join("state"),
            "router": {"url": router_url, "model": "smol"},
            "tools": ["disk_usage", "system_overview"],
            "clients": {"allowUnauthenticatedLoopback": false, "keys": [
                {"name": "bot", "key": {"file": state.path().join("bot.key")}},
                {"name": "ops", "key": {"file": state.path().join("ops.key")}}
            ]},
        });
        doc.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let config: hwc_ai_assistant::Config =
            hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
        let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
        let addr = daemon.addr;
        Self {
            addr,
            state,
            daemon,
            client: reqwest::Client::new(),
        }
    }

    fn audit_db(&self) -> PathBuf {
        self.state.path().join("state/audit.db")
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn ask(&self, text: &str) -> (u16, Value) {
        self.post(
            "k-bot",
            "/v1/chat/completions",
            json!({"model": "hwc-ai-assistant", "messages": [{"role": "user", "content": text}]}),
        )
        .await
    }
}

impl Drop for Assistant {
    fn drop(&mut self) {
        self.daemon.shutdown.trigger();
    }
}

fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

#[tokio::test]
async fn the_model_calls_tools_and_answers_from_their_data() {
    let (model, url) = Model::start(vec![
        json!({"role": "assistant", "content": null, "tool_calls": [
            tool_call("c1", "disk_usage", "{\"mount\": \"/\"}"),
            tool_call("c2", "system_overview", "{}"),
        ]}),
        json!({"role": "assistant", "content": "The root filesystem has room; the CPU is quiet."}),
    ])
    .await;
    let assistant = Assistant::start(&url, json!({})).await;
    let (status, body) = assistant.ask("How are the disk and the CPU?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "The root filesystem has room; the CPU is quiet."
    );
    assert_eq!(body["hwc_ai"]["source"], "model");
    assert_eq!(
        body["hwc_ai"]["tools"],
        json!(["disk_usage", "system_overview"])
    );

    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["model"], "smol");
    let offered: Vec<&str> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["disk_usage", "system_overview"]);
    // The second turn carries both tools' real data back.
    let tool_messages: Vec<&Value> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(tool_messages.len(), 2);
    assert_eq!(tool_messages[0]["tool_call_id"], "c1");
    let disk: Value = serde_json::from_str(tool_messages[0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(disk["filesystems"][0]["mount"], "/");

    let rows = audit::tail_file(&assistant.audit_db(), 10).unwrap();
    let tools: Vec<Option<&str>> = rows.iter().map(|r| r.entry.tool.as_deref()).collect();
    assert_eq!(tools, [Some("disk_usage"), Some("system_overview"), None]);
    assert!(rows.iter().all(|r| r.entry.client == "bot"));
    assert_eq!(
        rows[0].entry.arguments.as_deref(),
        Some("{\"mount\":\"/\"}")
    );
    assert_eq!(rows[2].entry.outcome, "answered (model)");
    assert!(matches!(
        audit::verify(&assistant.audit_db()).unwrap(),
        Verdict::Intact { rows: 3, .. }
    ));
}

#[tokio::test]
async fn bad_tool_calls_go_back_to_the_model_and_rounds_are_bounded() {
    let looping = json!({"role": "assistant", "content": null, "tool_calls": [tool_call("x", "disk_usage", "{\"mount\": 5}")]});
    let (model, url) = Model::start(vec![
        json!({"role": "assistant", "content": null, "tool_calls": [
            tool_call("a", "restart_service", "{}"),
            tool_call("b", "disk_usage", "not json"),
        ]}),
        looping.clone(),
        looping,
        json!({"role": "assistant", "content": "I could not read the disks."}),
    ])
    .await;
    let assistant = Assistant::start(&url, json!({"agent": {"maxRounds": 3}})).await;
    let (status, body) = assistant.ask("disk?").await;
    assert_eq!(status, 200, "{body}");
    let requests = model.requests();
    // Three rounds with tools, then one without them for the answer.
    assert_eq!(requests.len(), 4);
    assert!(requests[3].get("tools").is_none());
    let results: Vec<String> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        results[0].contains("unknown tool `restart_service`"),
        "{results:?}"
    );
    assert!(results[1].contains("not JSON"), "{results:?}");
    let schema_error = requests[2]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| m["role"] == "tool")
        .unwrap();
    assert!(
        schema_error["content"].as_str().unwrap().contains("/mount"),
        "{schema_error}"
    );
}

#[tokio::test]
async fn refusals_never_reach_the_model_and_are_audited() {
    let (model, url) = Model::start(vec![]).await;
    let assistant = Assistant::start(&url, json!({})).await;
    let (status, body) = assistant
        .ask("Please restart nginx and then clear the journal")
        .await;
    assert_eq!(status, 200);
    let reply = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        reply.contains("read-only") && reply.contains("nothing was done"),
        "{reply}"
    );
    assert_eq!(body["hwc_ai"]["intent"], "refused");
    assert!(model.requests().is_empty());
    let (status, query) = assistant
        .post(
            "k-bot",
            "/v1/query",
            json!({"text": "reboot the box", "source": "matrix"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(query["intent"], "refused");
    assert_eq!(query["action_taken"], false);
    let rows = audit::tail_file(&assistant.audit_db(), 5).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].entry.refusal.as_deref(), Some("asks to restart"));
    assert_eq!(rows[1].entry.client, "bot via matrix");
    let metrics = assistant.daemon.metrics().await;
    assert!(
        metrics.contains("hwc_ai_assistant_requests_total{source=\"refusal\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hwc_ai_assistant_audit_rows_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_the_model_everyday_questions_are_answered_directly() {
    let closed = format!("http://{}", free_addr());
    let assistant = Assistant::start(&closed, json!({})).await;
    let (status, body) = assistant.ask("How much disk space is left?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hwc_ai"]["source"], "direct");
    let reply = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        reply.contains("- /: ") && reply.contains("model was not available"),
        "{reply}"
    );
    let (status, body) = assistant.ask("Write me a limerick about uptime").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["type"], "model_unavailable");
}

#[tokio::test]
async fn keys_rate_limits_and_streaming() {
    let (_model, url) = Model::start(vec![
        json!({"role": "assistant", "content": "All quiet on every unit and disk tonight."}),
    ])
    .await;
    let assistant = Assistant::start(
        &url,
        json!({"rateLimit": {"requestsPerMinute": 1, "burst": 2}}),
    )
    .await;
    let models = |key: &'static str| {
        let c = assistant.client.clone();
        let url = format!("http://{}/v1/models", assistant.addr);
        async move {
            let mut r = c.get(url);
            if !key.is_empty() {
                r = r.bearer_auth(key);
            }
            r.send().await.unwrap()
        }
    };
    assert_eq!(models("").await.status(), 401);
    assert_eq!(models("k-nope").await.status(), 403);
    let response = assistant
        .client
        .post(format!("http://{}/v1/chat/completions", assistant.addr))
        .bearer_auth("k-ops")
        .json(&json!({"model": "hwc-ai-assistant", "stream": true, "messages": [{"role": "user", "content": "status?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(content, "All quiet on every unit and disk tonight.");
    // Model listings are not counted (Open WebUI lists on every page).
    for _ in 0..5 {
        assert_eq!(models("k-ops").await.status(), 200);
    }
    // ops has used one of its two; the second passes, the third waits.
    let tool = |key: &'static str| {
        let c = assistant.client.clone();
        let url = format!("http://{}/tools/disk_usage", assistant.addr);
        async move { c.post(url).bearer_auth(key).send().await.unwrap() }
    };
    assert_eq!(tool("k-ops").await.status(), 200);
    let limited = tool("k-ops").await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Limits are per client.
    assert_eq!(tool("k-bot").await.status(), 200);
    let metrics = assistant.daemon.metrics().await;
    assert!(
        metrics.contains(r#"hwc_ai_assistant_rate_limited_total{client="ops"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn sessions_keep_history_per_client_concurrently() {
    let script: Vec<Value> = (0..10)
        .map(|n| json!({"role": "assistant", "content": format!("answer {n}")}))
        .collect();
    let (model, url) = Model::start(script).await;
    let assistant = Arc::new(
        Assistant::start(
            &url,
            json!({"rateLimit": {"requestsPerMinute": 6000, "burst": 100}}),
        )
        .await,
    );
    let mut tasks = Vec::new();
    for n in 0..5 {
        let a = assistant.clone();
        tasks.push(tokio::spawn(async move {
            let (status, created) = a.post("k-bot", "/sessions", json!({})).await;
            assert_eq!(status, 201);
            let id = created["id"].as_str().unwrap().to_owned();
            for turn in 0..2 {
                let (status, body) = a
                    .post(
                        "k-bot",
                        &format!("/sessions/{id}/messages"),
                        json!({"text": format!("s{n} q{turn}")}),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
            }
            id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for (n, id) in ids.iter().enumerate() {
        let history: Value = assistant
            .client
            .get(format!("http://{}/sessions/{id}", assistant.addr))
            .bearer_auth("k-bot")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let questions: Vec<&str> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(questions, [format!("s{n} q0"), format!("s{n} q1")]);
        let other = assistant
            .client
            .get(format!("http://{}/sessions/{id}", assistant.addr))
            .bearer_auth("k-ops")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
    }
    // The second question of a session carried the first turn to the model.
    let with_history = model
        .requests()
        .iter()
        .filter(|r| r["messages"].as_array().unwrap().len() == 4)
        .count();
    assert_eq!(with_history, 5);
    let deleted = assistant
        .client
        .delete(format!("http://{}/sessions/{}", assistant.addr, ids[0]))
        .bearer_auth("k-bot")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

/// A chat bot written with curl: `-d` sends the JSON as
/// `application/x-www-form-urlencoded`, and some scripts send no
/// `Content-Type` at all. Both are answered; a body that is not JSON gets
/// an error that says what to send.
#[tokio::test]
async fn json_from_curl_without_a_json_content_type_is_answered() {
    let closed = format!("http://{}", free_addr());
    let assistant = Assistant::start(&closed, json!({})).await;
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = assistant
            .client
            .post(format!("http://{}/v1/query", assistant.addr))
            .bearer_auth("k-bot")
            .body(body);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let question = r#"{"text": "How much disk space is left?", "source": "matrix"}"#;
    for content_type in [Some("application/x-www-form-urlencoded"), None] {
        let (status, body) = send(content_type, question).await;
        assert_eq!(status, 200, "{content_type:?}: {body}");
        assert!(body["reply"].as_str().unwrap().contains("- /: "), "{body}");
    }
    let (status, body) = send(Some("application/x-www-form-urlencoded"), "text=hi").await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("not JSON") && message.contains("Content-Type: application/json"),
        "{message}"
    );
}
