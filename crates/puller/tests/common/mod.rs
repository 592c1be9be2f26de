//! Helpers shared by the puller's tests: a small fake Ollama, a puller
//! running in-process on a free port, and readers of its documents.
// each test binary uses a part of this module
#![allow(dead_code, unused_imports)]

use std::time::{Duration, Instant};

use hwc_ai_ollama_fake::{CatalogModel, FakeOllama, PullSpeed};
use hwc_ai_puller::disk::FixedDisk;
use hwc_ai_puller::{Config, ModelsDoc, Options};
use hwc_ai_runtime::Shutdown;
use hwc_ai_test_support::Embedded;
pub use hwc_ai_test_support::{client, free_addr, sample as metric};
use serde_json::Value;

pub const GIB: u64 = 1 << 30;

/// A fake offering a few small models at a quick, visible pull speed.
pub fn fake() -> FakeOllama {
    let fake = FakeOllama::new([
        CatalogModel::new("llama3.2:1b").model_size(40_000),
        CatalogModel::new("tinyllama").model_size(20_000),
        CatalogModel::new("qwen3:0.6b").model_size(30_000),
        CatalogModel::embedding("nomic-embed-text").model_size(10_000),
        CatalogModel::new("someone/custom:q4").model_size(5_000),
    ]);
    fake.set_pull_speed(PullSpeed::Steps {
        steps: 4,
        tick: Duration::from_millis(1),
    });
    fake
}

/// A config document for `ollama` with the test's own fields merged over
/// quick timings.
pub fn config(ollama: &str, extra: Value) -> Config {
    let mut doc = serde_json::json!({
        "ollamaUrl": ollama,
        "retry": { "initial": "200ms", "max": "1s" },
        "disk": { "path": "/", "minFree": "1GiB" },
        "progressLogInterval": "50ms",
    });
    merge(&mut doc, extra);
    hwc_ai_runtime::config::parse(&doc.to_string()).expect("test config is valid")
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// A disk with plenty of room.
pub fn roomy_disk() -> FixedDisk {
    FixedDisk::new(100 * GIB, 200 * GIB)
}

/// A puller daemon running in this process.
pub struct Daemon {
    pub url: String,
    pub shutdown: Shutdown,
    daemon: Embedded,
}

impl Daemon {
    pub async fn start(config: Config, disk: FixedDisk) -> Self {
        let options = Options {
            disk: std::sync::Arc::new(disk),
        };
        let daemon = Embedded::start(|ctx| hwc_ai_puller::run_with(config, ctx, options));
        Self {
            url: daemon.url.clone(),
            shutdown: daemon.shutdown.clone(),
            daemon,
        }
    }

    pub async fn models(&self) -> ModelsDoc {
        client()
            .get(format!("{}/models", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET /health`: status code and document.
    pub async fn health(&self) -> (u16, Value) {
        let resp = client()
            .get(format!("{}/health", self.url))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn metrics(&self) -> String {
        self.daemon.metrics().await
    }

    /// `POST /reconcile?wait=true&...`: status code and document.
    pub async fn reconcile(&self, query: &str) -> (u16, ModelsDoc) {
        let resp = client()
            .post(format!("{}/reconcile?wait=true{query}", self.url))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// Polls `/models` until `done` holds; panics with the last document
    /// after 15 s.
    pub async fn until(&self, what: &str, done: impl Fn(&ModelsDoc) -> bool) -> ModelsDoc {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let doc = self.models().await;
            if done(&doc) {
                return doc;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}: {doc:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.daemon.stop_within(Duration::from_secs(15)).await;
    }
}

/// The report of one model in a document.
pub fn model<'a>(doc: &'a ModelsDoc, name: &str) -> &'a hwc_ai_puller::report::ModelReport {
    doc.models
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} not in {doc:#?}"))
}
