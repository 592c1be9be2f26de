//! What the tests of the infrastructure tool families (Kubernetes, Argo
//! CD, Vault) share: a fake service served on loopback, a scripted model,
//! and an assistant with one family configured.

#![allow(dead_code)] // each test file uses its own part

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use hwc_ai_test_support::Embedded;
use serde_json::{json, Value};

/// Serves `app` on a free loopback port; its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A model server answering from a script, keeping every request body.
pub async fn start_model(script: Vec<Value>) -> (Arc<Mutex<Vec<Value>>>, String) {
    let script = Arc::new(Mutex::new(script));
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |Json(body): Json<Value>| {
            let script = script.clone();
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                let mut s = script.lock().unwrap();
                let message = if s.is_empty() {
                    json!({"role": "assistant", "content": "(script ended)"})
                } else {
                    s.remove(0)
                };
                Json(
                    json!({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}),
                )
            }
        }),
    );
    (kept, serve(app).await)
}

/// A model's tool call, as the script gives it.
pub fn tool_call(id: &str, name: &str, arguments: Value) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}})
}

pub struct Assistant {
    pub url: String,
    state: tempfile::TempDir,
    daemon: Embedded,
}

impl Drop for Assistant {
    fn drop(&mut self) {
        self.daemon.shutdown.trigger();
    }
}

impl Assistant {
    /// The assistant in this process, its model at `model`, with the
    /// family `section` (`kubernetes`, `argocd`, `vault`) at `service`
    /// and `token` in a file.
    pub async fn start(section: &str, model: &str, service: &str, token: &str) -> Self {
        Self::start_with(section, model, service, token, json!({})).await
    }

    /// The same, with `extra` fields in the family's section.
    pub async fn start_with(
        section: &str,
        model: &str,
        service: &str,
        token: &str,
        extra: Value,
    ) -> Self {
        let state = tempfile::tempdir().unwrap();
        let token_file = state.path().join(format!("{section}.token"));
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        let doc = json!({
            "stateDirectory": state.path().join("state"),
            "router": {"url": model},
            "rateLimit": {"requestsPerMinute": 1000, "burst": 100},
            section: {
                "url": service,
                "token": {"file": token_file},
                "timeout": "3s"
            }
        });
        let mut doc = doc;
        for (k, v) in extra.as_object().unwrap() {
            doc[section][k] = v.clone();
        }
        Self::start_doc(state, doc).await
    }

    /// The assistant with the section `section` as `value` says (a family
    /// without a token: `web`).
    pub async fn start_section(section: &str, model: &str, value: Value) -> Self {
        let state = tempfile::tempdir().unwrap();
        let doc = json!({
            "stateDirectory": state.path().join("state"),
            "router": {"url": model},
            "rateLimit": {"requestsPerMinute": 1000, "burst": 100},
            section: value,
        });
        Self::start_doc(state, doc).await
    }

    async fn start_doc(state: tempfile::TempDir, doc: Value) -> Self {
        let config: hwc_ai_assistant::Config =
            hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
        let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
        let url = daemon.url.clone();
        tokio::time::sleep(Duration::from_millis(100)).await;
        Self { url, state, daemon }
    }

    /// The OpenAPI document of the tool server (what Open WebUI reads).
    pub async fn tool_spec(&self) -> Value {
        reqwest::get(format!("{}/tools/openapi.json", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The tool server's operations whose id starts with `prefix`, in
    /// the order it lists them.
    pub async fn operations(&self, prefix: &str) -> Vec<String> {
        let spec = self.tool_spec().await;
        spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p["post"]["operationId"].as_str().unwrap().to_owned())
            .filter(|o| o.starts_with(prefix))
            .collect()
    }

    pub async fn tool(&self, name: &str, arguments: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/tools/{name}", self.url))
            .json(&arguments)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn ask(&self, text: &str) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", self.url))
            .json(&json!({"model": "hwc-ai-assistant", "messages": [{"role": "user", "content": text}]}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub fn audit_text(&self) -> String {
        let rows =
            hwc_ai_assistant::audit::tail_file(&self.state.path().join("state/audit.db"), 100)
                .unwrap();
        serde_json::to_string(&rows).unwrap()
    }
}
