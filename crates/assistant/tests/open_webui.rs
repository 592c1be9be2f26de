//! The assistant's tool server as Open WebUI uses it: a connection URL
//! (`http://HOST:9434/tools`), the spec at URL + `/openapi.json`, each
//! call at URL + the operation's path (Open WebUI ignores `servers`), and
//! the spec fetched again on every model listing and every chat with
//! tools.

use std::net::SocketAddr;

use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

struct Assistant {
    addr: SocketAddr,
    _state: tempfile::TempDir,
    daemon: Embedded,
    client: reqwest::Client,
}

impl Assistant {
    async fn start(rate_limit: Value) -> Self {
        let state = tempfile::tempdir().unwrap();
        std::fs::write(state.path().join("webui.key"), "k-webui\n").unwrap();
        // No model server: tool calls and static answers need none.
        let closed = format!("http://{}", free_addr());
        let doc = json!({
            "stateDirectory": state.path().join("state"),
            "router": {"url": closed, "model": "smol"},
            "tools": ["disk_usage", "system_overview"],
            "clients": {"allowUnauthenticatedLoopback": false, "keys": [
                {"name": "open-webui", "key": {"file": state.path().join("webui.key")}}
            ]},
            "rateLimit": rate_limit,
        });
        let config: hwc_ai_assistant::Config =
            hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
        let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
        let addr = daemon.addr;
        Self {
            addr,
            _state: state,
            daemon,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .bearer_auth("k-webui")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, url: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(url)
            .bearer_auth("k-webui")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn metrics(&self) -> String {
        self.daemon.metrics().await
    }
}

impl Drop for Assistant {
    fn drop(&mut self) {
        self.daemon.shutdown.trigger();
    }
}

#[tokio::test]
async fn every_operation_is_called_at_the_connection_url_plus_its_path() {
    let assistant = Assistant::start(json!({"requestsPerMinute": 30, "burst": 10})).await;
    // The connection URL docs/assistant.md gives.
    let connection = format!("http://{}/tools", assistant.addr);
    let (status, spec) = assistant.get("/tools/openapi.json").await;
    assert_eq!(status, 200, "{spec}");
    let paths = spec["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 2, "{spec}");
    for (path, item) in paths {
        let (status, body) = assistant
            .post(&format!("{connection}{path}"), json!({}))
            .await;
        assert_eq!(
            status, 200,
            "{} at {connection}{path}: {body}",
            item["post"]["operationId"]
        );
    }
}

#[tokio::test]
async fn spec_fetches_and_model_listings_do_not_use_up_the_rate_limit() {
    let assistant = Assistant::start(json!({"requestsPerMinute": 1, "burst": 2})).await;
    // Open WebUI: a model listing and a spec fetch per page load and per
    // chat with tools, far more often than the budget for work.
    for _ in 0..10 {
        assert_eq!(assistant.get("/tools/openapi.json").await.0, 200);
        assert_eq!(assistant.get("/v1/models").await.0, 200);
    }
    let call = format!("http://{}/tools/disk_usage", assistant.addr);
    assert_eq!(assistant.post(&call, json!({})).await.0, 200);
    assert_eq!(assistant.post(&call, json!({})).await.0, 200);
    let (status, body) = assistant.post(&call, json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`open-webui`"),
        "{body}"
    );
    // Counted by client, so a dashboard shows whose budget is too small.
    let metrics = assistant.metrics().await;
    assert!(
        metrics.contains(r#"hwc_ai_assistant_rate_limited_total{client="open-webui"} 1"#),
        "{metrics}"
    );
}
