//! What the read-only infrastructure tool families (Kubernetes, Argo CD,
//! Vault) share: one bounded, timed GET against a service's API whose
//! errors name the service and never the token or the URL's query, and
//! the fitting of long listings into one tool answer.

use std::path::PathBuf;
use std::time::Duration;

use hwc_ai_runtime::client::TlsConfig;
use hwc_ai_runtime::ConfigError;
use serde_json::{json, Value};

use super::ToolError;

/// Most items a listing keeps; the rest are counted as omitted.
pub(super) const MAX_ITEMS: usize = 150;

/// A service's API as its tools reach it.
pub(super) struct Service {
    /// As it is named in errors: "Kubernetes", "Argo CD", "Vault".
    pub name: &'static str,
    pub base: url::Url,
    pub client: reqwest::Client,
    pub timeout: Duration,
    /// The largest answer read before giving up on it.
    pub max_body: usize,
}

/// The client a family reaches its service with: the runtime's policy,
/// the family's CA bundle (`section.caFile`), and redirects not followed,
/// so the token is never sent on to another host.
pub(super) fn client(
    ca_file: Option<PathBuf>,
    section: &str,
) -> Result<reqwest::Client, ConfigError> {
    let tls = TlsConfig {
        ca_file,
        ..TlsConfig::default()
    };
    let builder = tls.apply(
        hwc_ai_runtime::client::builder("assistant").redirect(reqwest::redirect::Policy::none()),
        section,
    )?;
    hwc_ai_runtime::client::build(builder, section)
}

/// The `message` (else `error`) of a service's JSON error body
/// (Kubernetes' `Status`, Argo CD's and Gitea's errors), cut short; empty
/// when there is none.
pub(super) fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v["message"]
                .as_str()
                .or(v["error"].as_str())
                .map(|m| cut(m, 300))
        })
        .unwrap_or_default()
}

impl Service {
    /// The URL of `path` under the base URL (which may carry a path).
    pub fn url(&self, path: &str) -> url::Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        url
    }

    /// Sends `request` (a GET of `path`) and reads the answer within the
    /// service's timeout and body bound: its status and body.
    pub async fn fetch(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), ToolError> {
        let name = self.name;
        let exchange = async {
            let mut response = request.send().await.map_err(|e| {
                ToolError::Unavailable(format!(
                    "cannot reach {name} at {}: {}",
                    self.base.origin().ascii_serialization(),
                    e.without_url()
                ))
            })?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                ToolError::Unavailable(format!("reading {name}'s answer: {}", e.without_url()))
            })? {
                if body.len() + chunk.len() > self.max_body {
                    return Err(ToolError::Failed(format!(
                        "{name} answered more than {} MiB for {path}",
                        self.max_body >> 20
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                ToolError::Unavailable(format!(
                    "{name} did not answer within {:?} for {path}",
                    self.timeout
                ))
            })?
    }

    /// An answer's body as JSON, or an error naming the path.
    pub fn json(&self, path: &str, body: &[u8]) -> Result<Value, ToolError> {
        serde_json::from_slice(body).map_err(|e| {
            ToolError::Failed(format!(
                "{} answered {path} with invalid JSON: {e}",
                self.name
            ))
        })
    }

    /// An error answer, named: the status, why (in the family's words) and
    /// the service's own message when it gave one.
    pub fn refused(
        &self,
        status: reqwest::StatusCode,
        path: &str,
        why: &str,
        message: &str,
    ) -> ToolError {
        let detail = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        ToolError::Unavailable(format!(
            "{} answered {status} for {path}: {why}{detail}",
            self.name
        ))
    }
}

/// As many of `items` as fit in one tool answer (at most [`MAX_ITEMS`]),
/// and how many did not: the answer stays whole JSON instead of being cut.
pub(super) fn fit(items: impl Iterator<Item = Value>) -> (Vec<Value>, usize) {
    // Room for the envelope and the truncation note.
    let budget = super::MAX_OUTPUT - 512;
    let mut used = 0;
    let mut kept = Vec::new();
    let mut omitted = 0;
    for item in items {
        let size = item.to_string().len() + 1;
        if omitted > 0 || kept.len() == MAX_ITEMS || used + size > budget {
            omitted += 1;
            continue;
        }
        used += size;
        kept.push(item);
    }
    (kept, omitted)
}

pub(super) fn with_omitted(mut value: Value, omitted: usize) -> Value {
    if omitted > 0 {
        value["omitted"] = json!(omitted);
        value["truncated"] = json!(format!("{omitted} more not shown; name a namespace"));
    }
    value
}

/// At most `max` characters of `s`, marked when cut.
pub(super) fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}
