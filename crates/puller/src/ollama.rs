//! The calls the puller makes to Ollama, each bounded in time, each failure
//! sorted into a [`Reason`] an operator can act on.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use url::Url;

/// Why a call failed, as a bounded label (`pull_failures_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// No connection to Ollama.
    Unreachable,
    /// No answer, or no progress, in time.
    Timeout,
    /// An HTTP error status with Ollama's message.
    Http,
    /// `{"error": ...}` in a stream that began with HTTP 200.
    ErrorLine,
    /// The connection closed mid-stream.
    Dropped,
    /// An answer that is not what the API documents.
    Protocol,
    /// Not enough free disk space to start or finish.
    Disk,
    /// The model is present but failed its validation inference.
    Invalid,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreachable => "unreachable",
            Reason::Timeout => "timeout",
            Reason::Http => "http",
            Reason::ErrorLine => "error-line",
            Reason::Dropped => "dropped",
            Reason::Protocol => "protocol",
            Reason::Disk => "disk",
            Reason::Invalid => "invalid",
        }
    }
}

/// A failed call: the reason and the words for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub reason: Reason,
    pub message: String,
    /// The HTTP status, when one arrived.
    pub status: Option<u16>,
}

impl CallError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            status: None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn transport(err: reqwest::Error, what: &str) -> CallError {
    // reqwest's own words repeat the URL and wrap the cause in layers; the
    // innermost cause ("Connection refused (os error 111)") is what helps.
    let mut cause: &dyn std::error::Error = &err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let (reason, words) = if err.is_timeout() {
        (Reason::Timeout, "timed out".to_owned())
    } else if err.is_connect() {
        (Reason::Unreachable, format!("cannot connect: {cause}"))
    } else if err.is_body() || err.is_decode() {
        (Reason::Dropped, format!("reading the answer: {cause}"))
    } else {
        (Reason::Unreachable, cause.to_string())
    };
    CallError::new(reason, format!("{what}: {words}"))
}

/// One model as `/api/tags` lists it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub modified_at: String,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    models: Vec<Tag>,
}

/// What validation needs from `/api/show`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Show {
    /// Newer servers list what the model does (`completion`, `embedding`).
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub details: Option<ShowDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ShowDetails {
    #[serde(default)]
    pub family: String,
}

/// One NDJSON line of `/api/pull`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PullLine {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub completed: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

/// The layers of one pull as its progress lines announce them: digest,
/// size, bytes done.
#[derive(Debug, Default)]
pub struct Layers(Vec<(String, u64, u64)>);

/// What a progress line changed.
#[derive(Debug, PartialEq, Eq)]
pub enum LayerStep {
    /// A layer not seen before, with the bytes it still needs.
    New { remaining: u64 },
    /// More bytes of a known layer.
    Grew(u64),
    /// Nothing (no layer, or no new bytes).
    Same,
}

impl Layers {
    /// Takes a line's layer progress: a line with a digest and a size.
    pub fn take(&mut self, line: &PullLine) -> Option<LayerStep> {
        let (Some(digest), Some(total)) = (&line.digest, line.total) else {
            return None;
        };
        if total == 0 {
            return None;
        }
        let completed = line.completed.unwrap_or(0).min(total);
        Some(match self.0.iter_mut().find(|l| &l.0 == digest) {
            Some(layer) => {
                // Within the size first announced: a later line may name
                // another total for the same digest.
                let completed = completed.min(layer.1);
                let delta = completed.saturating_sub(layer.2);
                if delta == 0 {
                    return Some(LayerStep::Same);
                }
                layer.2 = completed;
                LayerStep::Grew(delta)
            }
            None => {
                self.0.push((digest.clone(), total, completed));
                LayerStep::New {
                    remaining: total - completed,
                }
            }
        })
    }

    /// The pull's progress so far. Sums saturate: sizes come from Ollama,
    /// and a server announcing absurd ones must not crash the puller.
    pub fn progress(&self) -> crate::report::Progress {
        crate::report::Progress {
            completed_bytes: self.0.iter().fold(0u64, |n, l| n.saturating_add(l.2)),
            total_bytes: self.0.iter().fold(0u64, |n, l| n.saturating_add(l.1)),
        }
    }
}

/// An Ollama server.
#[derive(Clone)]
pub struct Ollama {
    client: reqwest::Client,
    base: Url,
    request_timeout: Duration,
}

impl Ollama {
    pub fn new(base: &Url, request_timeout: Duration) -> anyhow::Result<Self> {
        // Loopback Ollama: no proxy from the environment may sit between
        // (the runtime's policy).
        let client = hwc_ai_runtime::client::builder("puller")
            .connect_timeout(request_timeout)
            // Plain http (the usual local Ollama) needs no CA store; not
            // loading one keeps a few hundred kB off the idle footprint.
            .tls_built_in_root_certs(base.scheme() == "https")
            .build()?;
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            client,
            base,
            request_timeout,
        })
    }

    pub fn url(&self) -> &Url {
        &self.base
    }

    fn endpoint(&self, path: &str) -> Url {
        self.base.join(path).expect("constant relative path")
    }

    /// `GET /api/version`: the liveness probe.
    pub async fn version(&self) -> Result<String, CallError> {
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }
        let resp = self
            .client
            .get(self.endpoint("api/version"))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| transport(e, "GET /api/version"))?;
        let v: Version = json_body(resp, "GET /api/version").await?;
        Ok(v.version)
    }

    /// `GET /api/tags`: every model Ollama holds.
    pub async fn tags(&self) -> Result<Vec<Tag>, CallError> {
        let resp = self
            .client
            .get(self.endpoint("api/tags"))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| transport(e, "GET /api/tags"))?;
        let tags: Tags = json_body(resp, "GET /api/tags").await?;
        Ok(tags.models)
    }

    /// `POST /api/show`.
    pub async fn show(&self, model: &str) -> Result<Show, CallError> {
        let resp = self
            .client
            .post(self.endpoint("api/show"))
            .json(&json!({ "model": model }))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| transport(e, "POST /api/show"))?;
        json_body(resp, "POST /api/show").await
    }

    /// One token of real inference: `/api/generate` with `num_predict: 1`.
    pub async fn generate_one(&self, model: &str, timeout: Duration) -> Result<(), CallError> {
        #[derive(Deserialize)]
        struct Generated {
            #[serde(default)]
            done: bool,
        }
        let resp = self
            .client
            .post(self.endpoint("api/generate"))
            .json(&json!({
                "model": model,
                "prompt": "Say OK.",
                "stream": false,
                "options": { "num_predict": 1 },
            }))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(e, "POST /api/generate"))?;
        let answer: Generated = json_body(resp, "POST /api/generate").await?;
        if !answer.done {
            return Err(CallError::new(
                Reason::Protocol,
                "POST /api/generate: answer without done:true",
            ));
        }
        Ok(())
    }

    /// One embedding: `/api/embed` of a short text.
    pub async fn embed_one(&self, model: &str, timeout: Duration) -> Result<(), CallError> {
        #[derive(Deserialize)]
        struct Embedded {
            #[serde(default)]
            embeddings: Vec<Vec<f32>>,
        }
        let resp = self
            .client
            .post(self.endpoint("api/embed"))
            .json(&json!({ "model": model, "input": "hwc-ai validation" }))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(e, "POST /api/embed"))?;
        let answer: Embedded = json_body(resp, "POST /api/embed").await?;
        match answer.embeddings.first() {
            Some(v) if !v.is_empty() => Ok(()),
            _ => Err(CallError::new(
                Reason::Protocol,
                "POST /api/embed: no embedding in the answer",
            )),
        }
    }

    /// `DELETE /api/delete`.
    pub async fn delete(&self, model: &str) -> Result<(), CallError> {
        let resp = self
            .client
            .delete(self.endpoint("api/delete"))
            .json(&json!({ "model": model }))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| transport(e, "DELETE /api/delete"))?;
        check_status(resp, "DELETE /api/delete").await.map(|_| ())
    }

    /// Starts `POST /api/pull` and returns its progress lines as they come.
    /// An HTTP error before streaming is an error here; an `error` line
    /// under HTTP 200 comes back as a line for the caller to fail on.
    pub async fn pull(&self, model: &str, stall: Duration) -> Result<PullStream, CallError> {
        let resp = tokio::time::timeout(
            stall,
            self.client
                .post(self.endpoint("api/pull"))
                .json(&json!({ "model": model, "stream": true }))
                .send(),
        )
        .await
        .map_err(|_| CallError::new(Reason::Timeout, "POST /api/pull: no answer"))?
        .map_err(|e| transport(e, "POST /api/pull"))?;
        let resp = check_status(resp, "POST /api/pull").await?;
        Ok(PullStream {
            body: Box::pin(resp.bytes_stream()),
            buffer: Vec::new(),
            stall,
        })
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

/// The longest progress line taken: Ollama's are a few hundred bytes; an
/// answer that never ends a line must not grow the buffer without bound.
pub const MAX_LINE: usize = 1024 * 1024;

/// The NDJSON progress of a pull, line by line.
pub struct PullStream {
    body: ByteStream,
    buffer: Vec<u8>,
    stall: Duration,
}

impl PullStream {
    /// A stream of these chunks, as if Ollama had sent them.
    pub(crate) fn of_chunks(chunks: Vec<Vec<u8>>, stall: Duration) -> Self {
        let chunks = chunks.into_iter().map(|c| Ok(axum::body::Bytes::from(c)));
        Self {
            body: Box::pin(futures_util::stream::iter(chunks)),
            buffer: Vec::new(),
            stall,
        }
    }

    /// The next line; `Ok(None)` at a clean end of the stream.
    pub async fn next_line(&mut self) -> Result<Option<PullLine>, CallError> {
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=at).collect();
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                return serde_json::from_str(text).map(Some).map_err(|e| {
                    CallError::new(
                        Reason::Protocol,
                        format!("POST /api/pull: bad progress line {text:?}: {e}"),
                    )
                });
            }
            match tokio::time::timeout(self.stall, self.body.next()).await {
                Err(_) => {
                    return Err(CallError::new(
                        Reason::Timeout,
                        format!(
                            "POST /api/pull: no progress for {}",
                            humantime::format_duration(self.stall)
                        ),
                    ))
                }
                Ok(Some(Ok(chunk))) => {
                    self.buffer.extend_from_slice(&chunk);
                    if self.buffer.len() > MAX_LINE && !self.buffer.contains(&b'\n') {
                        return Err(CallError::new(
                            Reason::Protocol,
                            format!("POST /api/pull: a progress line longer than {MAX_LINE} bytes"),
                        ));
                    }
                }
                Ok(Some(Err(err))) => {
                    let mut err = transport(err, "POST /api/pull");
                    if err.reason != Reason::Timeout {
                        err.reason = Reason::Dropped;
                        err.message = format!("{}: connection dropped mid-stream", err.message);
                    }
                    return Err(err);
                }
                Ok(None) => {
                    let rest = std::mem::take(&mut self.buffer);
                    let text = String::from_utf8_lossy(&rest);
                    let text = text.trim();
                    if text.is_empty() {
                        return Ok(None);
                    }
                    return serde_json::from_str(text).map(Some).map_err(|_| {
                        CallError::new(
                            Reason::Dropped,
                            "POST /api/pull: connection dropped mid-line",
                        )
                    });
                }
            }
        }
    }
}

/// Passes a 2xx response on; turns any other into a [`CallError`] carrying
/// Ollama's `{"error": ...}` message.
async fn check_status(resp: reqwest::Response, what: &str) -> Result<reqwest::Response, CallError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect());
    Err(CallError {
        reason: Reason::Http,
        message: format!("{what}: HTTP {}: {message}", status.as_u16()),
        status: Some(status.as_u16()),
    })
}

async fn json_body<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &str,
) -> Result<T, CallError> {
    let resp = check_status(resp, what).await?;
    let bytes = resp.bytes().await.map_err(|e| transport(e, what))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CallError::new(Reason::Protocol, format!("{what}: unexpected answer: {e}")))
}
