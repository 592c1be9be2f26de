//! Helpers shared by the integration tests: a client and stream readers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use hwc_ai_ollama_fake::{CatalogModel, FakeOllama, PullSpeed};
use serde_json::Value;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A fake with two small models and a quick, visible pull speed.
pub fn small_fake() -> FakeOllama {
    let fake = FakeOllama::new([
        CatalogModel::new("llama3.2:3b")
            .parameter_size("3.2B")
            .capabilities([
                hwc_ai_ollama_fake::Capability::Completion,
                hwc_ai_ollama_fake::Capability::Tools,
            ])
            .context_length(131_072)
            .model_size(4000),
        CatalogModel::new("tinyllama").model_size(1000),
        CatalogModel::embedding("nomic-embed-text").model_size(1000),
        CatalogModel::new("someone/custom:q4").model_size(100),
    ]);
    fake.set_pull_speed(PullSpeed::Steps {
        steps: 4,
        tick: Duration::from_millis(1),
    });
    fake
}

pub async fn post(url: &str, body: Value) -> (u16, Value) {
    let resp = client().post(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn get(url: &str) -> (u16, Value) {
    let resp = client().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A streamed body read line by line as it arrives.
pub struct Streamed {
    pub status: u16,
    pub content_type: String,
    /// Each line with the time it arrived.
    pub lines: Vec<(Instant, String)>,
    /// Whether the body ended in a transport error (connection cut).
    pub cut: bool,
}

impl Streamed {
    /// The lines parsed as JSON (NDJSON bodies).
    pub fn json(&self) -> Vec<Value> {
        self.lines
            .iter()
            .map(|(_, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    /// The `data:` payloads of an SSE body, blank lines dropped.
    pub fn sse_data(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|(_, l)| l.strip_prefix("data: ").map(str::to_owned))
            .collect()
    }
}

pub async fn stream(url: &str, body: Value) -> Streamed {
    let mut resp = client().post(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let mut buf = Vec::new();
    let mut lines = Vec::new();
    let mut cut = false;
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => {
                buf.extend_from_slice(&bytes);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    let line = String::from_utf8(line).unwrap().trim_end().to_owned();
                    if !line.is_empty() {
                        lines.push((Instant::now(), line));
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    assert!(buf.is_empty() || cut, "body ended mid-line: {buf:?}");
    Streamed {
        status,
        content_type,
        lines,
        cut,
    }
}
