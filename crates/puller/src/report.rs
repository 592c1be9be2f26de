//! The documents the puller serves: `GET /models` (everything the
//! `hwc-ai models` table shows) and `GET /health` (one state per declared
//! model). Both are plain data that deserialize too, so the command line
//! reads them with these same types.

use serde::{Deserialize, Serialize};

use crate::ollama::Reason;

/// Where a model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelState {
    /// Ollama has not been asked yet.
    Unknown,
    /// Not in Ollama; a pull is due.
    Missing,
    /// Waiting for a pull or validation slot.
    Queued,
    Pulling,
    Validating,
    /// Present and proven (or validation is off for it).
    Ready,
    /// Present, not validated yet.
    Present,
    /// Present, and its validation inference failed.
    Invalid,
    /// Not present; the last pull failed.
    Failed,
    /// Not present; the pull was refused or stopped for disk space.
    Refused,
    /// Held by Ollama but not declared.
    Undeclared,
}

impl ModelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Unknown => "unknown",
            ModelState::Missing => "missing",
            ModelState::Queued => "queued",
            ModelState::Pulling => "pulling",
            ModelState::Validating => "validating",
            ModelState::Ready => "ready",
            ModelState::Present => "present",
            ModelState::Invalid => "invalid",
            ModelState::Failed => "failed",
            ModelState::Refused => "refused",
            ModelState::Undeclared => "undeclared",
        }
    }

    /// A state that needs an operator (or a retry) rather than time.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            ModelState::Invalid | ModelState::Failed | ModelState::Refused
        )
    }
}

impl std::fmt::Display for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelsDoc {
    pub service: String,
    pub version: String,
    pub ollama: OllamaReport,
    pub reconcile: ReconcileReport,
    pub disk: Option<DiskReport>,
    /// Declared models in declaration order, then undeclared ones Ollama
    /// holds, by name.
    pub models: Vec<ModelReport>,
}

impl ModelsDoc {
    /// Every declared model present and valid: what `--once` and
    /// `hwc-ai models sync` exit 0 on.
    pub fn all_ready(&self) -> bool {
        self.models
            .iter()
            .filter(|m| m.declared)
            .all(|m| m.state == ModelState::Ready)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OllamaReport {
    pub url: String,
    /// `None` until the first call.
    pub reachable: Option<bool>,
    pub version: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    /// Reconciles under way now.
    pub running: u32,
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
    pub last_duration_seconds: Option<f64>,
    /// The last reconcile that left every declared model ready.
    pub last_success: Option<String>,
    /// When autoUpdate models are next re-pulled (daemon only).
    pub next_update: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskReport {
    pub path: String,
    pub free_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    pub used_ratio: Option<f64>,
    pub min_free_bytes: u64,
    pub warn_used_ratio: f64,
    /// Why the file system could not be measured.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelReport {
    /// As declared, or as Ollama lists an undeclared model.
    pub name: String,
    pub declared: bool,
    /// Undeclared but listed in `keep`, so prune leaves it.
    pub kept: bool,
    pub state: ModelState,
    pub present: bool,
    /// Ollama's manifest digest (64 hex).
    pub digest: Option<String>,
    pub size_bytes: Option<u64>,
    /// When Ollama last wrote the model: its last pull.
    pub modified_at: Option<String>,
    pub auto_update: bool,
    pub validate: bool,
    /// `None` until validated (or when validation is off).
    pub valid: Option<bool>,
    pub validated_at: Option<String>,
    /// What validation ran: `completion` or `embedding`.
    pub kind: Option<String>,
    pub last_pull: Option<LastPull>,
    /// The last failure's words, while it is current.
    pub error: Option<String>,
    pub reason: Option<Reason>,
    pub progress: Option<Progress>,
    /// Failures in a row.
    pub failures: u32,
    pub next_retry: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastPull {
    pub at: String,
    pub success: bool,
    pub reason: Option<Reason>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub completed_bytes: u64,
    /// Sum of the sizes of the layers announced so far.
    pub total_bytes: u64,
}

impl Progress {
    pub fn percent(&self) -> u64 {
        // In u128: sizes come from Ollama and may be anything.
        ((self.completed_bytes as u128 * 100)
            .checked_div(self.total_bytes as u128)
            .unwrap_or(0)
            .min(100)) as u64
    }
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthDoc {
    /// `ok`: every declared model ready. `pending`: waiting for Ollama, or
    /// pulls and validations under way. `degraded`: some model failed,
    /// was refused or is invalid, and has not succeeded since (served as
    /// HTTP 503).
    pub status: String,
    pub service: String,
    pub version: String,
    pub ollama_reachable: Option<bool>,
    pub models: Vec<ModelHealth>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelHealth {
    pub name: String,
    pub state: ModelState,
    pub error: Option<String>,
}

impl From<&ModelsDoc> for HealthDoc {
    fn from(doc: &ModelsDoc) -> Self {
        let models: Vec<ModelHealth> = doc
            .models
            .iter()
            .filter(|m| m.declared)
            .map(|m| ModelHealth {
                name: m.name.clone(),
                state: m.state,
                error: m.error.clone(),
            })
            .collect();
        // A model retrying after failures stays degraded until it succeeds,
        // so the answer does not flap while the retry runs.
        let failing = doc.models.iter().any(|m| m.declared && m.failures > 0);
        let status = if failing || models.iter().any(|m| m.state.is_problem()) {
            "degraded"
        } else if models.iter().all(|m| m.state == ModelState::Ready) {
            "ok"
        } else {
            "pending"
        };
        HealthDoc {
            status: status.to_owned(),
            service: doc.service.clone(),
            version: doc.version.clone(),
            ollama_reachable: doc.ollama.reachable,
            models,
        }
    }
}
