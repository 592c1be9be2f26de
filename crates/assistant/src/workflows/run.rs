//! One run, start to end: the inputs checked against their schema, the
//! output directory checked before any model is asked, the kind run, its
//! files written whole, and one audit row for the run. The last runs are
//! kept in memory for `GET /v1/workflows/runs`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::config::{Kind, Workflow};
use super::output::{self, File};
use super::{auto_doc, file_triage, journal, prompt};
use crate::audit::Entry;
use crate::engine::Engine;

/// Runs kept for `GET /v1/workflows/runs`.
pub const KEEP_RUNS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no workflow `{0}`")]
    Unknown(String),
    #[error("the inputs do not match the workflow's schema: {}", .0.join("; "))]
    InvalidInputs(Vec<String>),
    #[error("{0}")]
    Output(String),
    #[error("{0}")]
    PathRefused(String),
    #[error("the model is not available: {0}")]
    ModelUnavailable(String),
    #[error("{0}")]
    Schema(String),
    #[error("the run did not finish within its {0} budget")]
    Timeout(String),
    #[error("{0}")]
    Failed(String),
    #[error("nothing runs without an audit record, and it could not be written: {0}")]
    Audit(String),
}

impl RunError {
    /// The error's kind, as the API and the audit log name it.
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Unknown(_) => "workflow_not_found",
            RunError::InvalidInputs(_) => "invalid_inputs",
            RunError::Output(_) => "output_unavailable",
            RunError::PathRefused(_) => "path_refused",
            RunError::ModelUnavailable(_) => "model_unavailable",
            RunError::Schema(_) => "schema_error",
            RunError::Timeout(_) => "timeout",
            RunError::Failed(_) => "failed",
            RunError::Audit(_) => "audit_unavailable",
        }
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({"kind": self.kind(), "message": self.to_string()});
        if let RunError::InvalidInputs(errors) = self {
            error["validationErrors"] = json!(errors);
        }
        error
    }
}

/// What a kind produced, before anything is written.
#[derive(Default)]
pub struct Produced {
    /// Files for the output directory.
    pub files: Vec<File>,
    /// The text for the journal and the webhook (and the API's answer).
    pub content: String,
    /// Structured data for the API's answer (a plan, validated JSON).
    pub data: Value,
    /// Things the reader should know (the model was not reachable, ...).
    pub notes: Vec<String>,
}

/// A run as `GET /v1/workflows/runs` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub client: String,
    /// `running`, `ok` or `error`.
    pub status: &'static str,
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

pub struct Workflows {
    pub declared: BTreeMap<String, Workflow>,
    validators: BTreeMap<String, jsonschema::Validator>,
    /// `STATE/workflows`: undo logs.
    pub state: PathBuf,
    runs: Mutex<VecDeque<RunRecord>>,
    counter: std::sync::atomic::AtomicU64,
    pub http: reqwest::Client,
    /// Each workflow's ntfy token, read at start.
    ntfy_tokens: BTreeMap<String, hwc_ai_runtime::Secret>,
    /// The MCP gateway, for `mcpTools`.
    pub mcp: super::mcp::Gateway,
}

impl Workflows {
    /// The declared workflows; their schemas were checked with the config.
    pub fn new(
        declared: BTreeMap<String, Workflow>,
        state: PathBuf,
        mcp: &super::mcp::GatewayConfig,
    ) -> Result<Self, hwc_ai_runtime::ConfigError> {
        let validators = declared
            .iter()
            .filter_map(|(name, w)| {
                let schema = w.inputs.as_ref()?;
                Some((name.clone(), jsonschema::validator_for(schema).ok()?))
            })
            .collect();
        let mut ntfy_tokens = BTreeMap::new();
        for (name, w) in &declared {
            if let Some(source) = w.output.ntfy.as_ref().and_then(|n| n.token.as_ref()) {
                let field = format!("workflows.{name}.output.ntfy.token");
                ntfy_tokens.insert(name.clone(), source.read(&field)?);
            }
        }
        let uses_mcp = declared.values().any(|w| !w.mcp_tools.is_empty());
        Ok(Self {
            // The key is read only when a workflow calls the gateway.
            mcp: super::mcp::Gateway::load(mcp, uses_mcp)?,
            ntfy_tokens,
            declared,
            validators,
            state,
            runs: Mutex::new(VecDeque::new()),
            counter: Default::default(),
            http: hwc_ai_runtime::client::build(
                hwc_ai_runtime::client::builder("assistant"),
                "workflows",
            )?,
        })
    }

    pub fn get(&self, name: &str) -> Result<&Workflow, RunError> {
        self.declared
            .get(name)
            .ok_or_else(|| RunError::Unknown(name.to_owned()))
    }

    /// Every validation error of `inputs`, each with its path.
    pub fn check_inputs(&self, name: &str, inputs: &Value) -> Result<(), RunError> {
        let Some(validator) = self.validators.get(name) else {
            return Ok(());
        };
        let errors: Vec<String> = validator
            .iter_errors(inputs)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RunError::InvalidInputs(errors))
        }
    }

    /// A new run's id and its record, `running`.
    pub fn start(&self, workflow: &str, client: &str) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = SystemTime::now();
        let micros = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let id = format!("run-{micros:x}-{n}");
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.push_back(RunRecord {
            id: id.clone(),
            workflow: workflow.into(),
            client: client.into(),
            status: "running",
            started: humantime::format_rfc3339_millis(now).to_string(),
            duration_ms: None,
            result: None,
            error: None,
        });
        while runs.len() > KEEP_RUNS {
            runs.pop_front();
        }
        id
    }

    fn finish(&self, id: &str, took: Duration, outcome: &Result<Value, RunError>) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(run) = runs.iter_mut().find(|r| r.id == id) {
            run.duration_ms = Some(took.as_millis() as u64);
            match outcome {
                Ok(result) => {
                    run.status = "ok";
                    run.result = Some(result.clone());
                }
                Err(err) => {
                    run.status = "error";
                    run.error = Some(err.to_json());
                }
            }
        }
    }

    pub fn run_record(&self, id: &str) -> Option<RunRecord> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().find(|r| r.id == id).cloned()
    }

    /// The newest runs first, without their results.
    pub fn recent(&self, limit: usize) -> Vec<RunRecord> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter()
            .rev()
            .take(limit)
            .map(|r| RunRecord {
                result: None,
                ..r.clone()
            })
            .collect()
    }

    /// Runs `name` (already started as `id`) for `client`, within the
    /// workflow's budget, and audits it. `apply`: a file-triage run also
    /// moves the files.
    pub async fn execute(
        &self,
        engine: &Engine,
        id: &str,
        client: &str,
        name: &str,
        inputs: &Value,
        apply: bool,
    ) -> Result<Value, RunError> {
        let started = Instant::now();
        let budget = self
            .declared
            .get(name)
            .and_then(|w| w.budget)
            .unwrap_or_else(|| engine.budget());
        let outcome = match tokio::time::timeout(
            budget,
            self.execute_inner(engine, id, client, name, inputs, apply),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(RunError::Timeout(
                humantime::format_duration(budget).to_string(),
            )),
        };
        let audited = engine.record(Entry {
            client: client.into(),
            request: format!("workflow {name}"),
            intent: Some("workflow".into()),
            tool: None,
            arguments: Some(
                json!({"run": id, "inputsSha256": digest(inputs), "apply": apply}).to_string(),
            ),
            result: Some(match &outcome {
                Ok(result) => summary(result),
                Err(err) => err.to_string(),
            }),
            outcome: match &outcome {
                Ok(_) => "ok".into(),
                Err(err) => err.kind().into(),
            },
            refusal: None,
        });
        let outcome = match audited {
            Ok(()) => outcome,
            Err(err) => Err(RunError::Audit(err.to_string())),
        };
        self.finish(id, started.elapsed(), &outcome);
        outcome
    }

    async fn execute_inner(
        &self,
        engine: &Engine,
        id: &str,
        client: &str,
        name: &str,
        inputs: &Value,
        apply: bool,
    ) -> Result<Value, RunError> {
        let workflow = self.get(name)?;
        self.check_inputs(name, inputs)?;
        if let Some(dir) = &workflow.output.directory {
            output::check_directory(dir)?;
        }
        let who = format!("{client} (workflow {name})");
        let produced = match workflow.kind {
            Kind::Prompt => prompt::run(engine, self, &who, name, workflow, inputs).await?,
            Kind::Journal => journal::run(engine, &who, name, workflow).await?,
            Kind::AutoDoc => auto_doc::run(engine, &who, name, workflow, inputs).await?,
            Kind::FileTriage => {
                let undo = self.state.join("undo");
                file_triage::run(name, id, workflow, inputs, apply || workflow.apply, &undo)?
            }
        };
        let mut files = Vec::new();
        if let Some(dir) = &workflow.output.directory {
            files = output::write_files(dir, &produced.files)?;
        }
        let mut notes = produced.notes;
        if workflow.output.journal {
            tracing::info!(workflow = name, run = id, "{}", produced.content);
        }
        // A sink that fails is a note when the result went somewhere else,
        // and the run's error when it went nowhere.
        let mut delivered = !files.is_empty() || workflow.output.journal;
        let mut failed = Vec::new();
        if let Some(url) = &workflow.output.webhook {
            match output::webhook(&self.http, url, name, id, &produced.content, &produced.data)
                .await
            {
                Ok(()) => delivered = true,
                Err(err) => failed.push(err),
            }
        }
        if let Some(topic) = &workflow.output.ntfy {
            let token = self.ntfy_tokens.get(name);
            match output::ntfy(&self.http, topic, token, name, &produced.content).await {
                Ok(()) => delivered = true,
                Err(err) => failed.push(err),
            }
        }
        if !delivered && !failed.is_empty() {
            return Err(RunError::Output(failed.join("; ")));
        }
        for err in failed {
            tracing::warn!(workflow = name, run = id, "{err}");
            notes.push(err);
        }
        Ok(json!({
            "files": files,
            "content": produced.content,
            "data": produced.data,
            "notes": notes,
        }))
    }
}

/// SHA-256 of the inputs' JSON, for the audit log (the inputs themselves
/// may be long or private).
pub fn digest(inputs: &Value) -> String {
    let digest = Sha256::digest(inputs.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn summary(result: &Value) -> String {
    let files = result["files"]
        .as_array()
        .map(|f| f.len())
        .unwrap_or_default();
    let content: String = result["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    format!("{files} file(s) written; {content}")
}

/// Today's date (UTC) and a time stamp usable in file names.
pub fn stamp() -> (String, String) {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let date = now[..10].to_owned();
    let time = now[..19].replace(':', "-");
    (date, time)
}
