//! The workflows over HTTP, behind the same client keys as the rest of
//! the assistant's API:
//!
//! - `GET /v1/workflows`, `GET /v1/workflows/{name}` (with its inputs'
//!   schema)
//! - `POST /v1/workflows/{name}/run` `{"inputs": {...}, "apply": false}`:
//!   waits for the run (within its budget); with `?async=true` answers 202
//!   with the run's id at once
//! - `GET /v1/workflows/runs`, `GET /v1/workflows/runs/{id}`
//! - `POST /v1/workflows/runs/{id}/undo`: a file-triage run's moves back
//! - `/workflows/openapi.json` and `POST /workflows/{name}`: one tool
//!   server operation per workflow, for Open WebUI

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::config::Workflow;
use super::file_triage;
use super::run::RunError;
use crate::api::{Client, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/workflows", get(list))
        .route("/v1/workflows/runs", get(runs))
        .route("/v1/workflows/runs/{id}", get(run_status))
        .route("/v1/workflows/runs/{id}/undo", post(undo))
        .route("/v1/workflows/{name}", get(describe))
        .route("/v1/workflows/{name}/run", post(run))
        .route("/workflows/openapi.json", get(spec))
        .route("/workflows/{name}", post(tool_run))
}

fn status(err: &RunError) -> StatusCode {
    match err {
        RunError::Unknown(_) => StatusCode::NOT_FOUND,
        RunError::InvalidInputs(_) | RunError::PathRefused(_) => StatusCode::BAD_REQUEST,
        RunError::ModelUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        RunError::Schema(_) => StatusCode::UNPROCESSABLE_ENTITY,
        RunError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        RunError::Output(_) | RunError::Failed(_) | RunError::Audit(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn run_error(err: RunError, id: Option<&str>) -> Response {
    let mut body = json!({"error": err.to_json()});
    body["error"]["type"] = json!(err.kind());
    if let Some(id) = id {
        body["run"] = json!(id);
    }
    (status(&err), Json(body)).into_response()
}

fn inputs_schema(w: &Workflow) -> Value {
    w.inputs
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}))
}

fn summary(name: &str, w: &Workflow) -> Value {
    json!({
        "name": name,
        "kind": w.kind.as_str(),
        "description": description(name, w),
        "schedule": w.schedule,
        "model": w.model,
    })
}

fn description(name: &str, w: &Workflow) -> String {
    w.description.clone().unwrap_or_else(|| match w.kind {
        super::Kind::Prompt => format!("Runs the `{name}` prompt."),
        super::Kind::Journal => "Writes today's journal of this machine: failed units, recent failures, disks, the AI stack, alerts.".into(),
        super::Kind::AutoDoc => format!(
            "Writes a README for each folder of {}.",
            w.source.as_deref().unwrap_or(std::path::Path::new("")).display()
        ),
        super::Kind::FileTriage => format!(
            "Proposes where each file of {} goes.",
            w.inbox.as_deref().unwrap_or(std::path::Path::new("")).display()
        ),
    })
}

async fn list(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let items: Vec<Value> = shared
        .workflows
        .declared
        .iter()
        .map(|(name, w)| summary(name, w))
        .collect();
    Json(json!({"workflows": items}))
}

async fn describe(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match shared.workflows.get(&name) {
        Ok(w) => {
            let mut body = summary(&name, w);
            body["inputs"] = inputs_schema(w);
            body["outputSchema"] = json!(w.output_schema);
            body["tools"] = json!(w.tools);
            body["mcpTools"] = json!(w.mcp_tools);
            body["output"] = json!(w.output);
            Json(body).into_response()
        }
        Err(err) => run_error(err, None),
    }
}

#[derive(Deserialize)]
struct RunQuery {
    #[serde(default, rename = "async")]
    asynchronous: bool,
}

/// The body, or `{}` when there is none.
fn body_json(headers: &HeaderMap, body: &[u8]) -> Result<Value, Box<Response>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    hwc_ai_runtime::http::parse_json_body(headers, body)
        .map_err(|rejection| Box::new(rejection.into_response()))
}

async fn run(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(name): Path<String>,
    Query(query): Query<RunQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body = match body_json(&headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    if let Some(unknown) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "inputs" | "apply")))
    {
        return crate::api::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("unknown field `{unknown}` (a run takes `inputs` and `apply`)"),
        );
    }
    let inputs = match &body["inputs"] {
        Value::Null => json!({}),
        other => other.clone(),
    };
    let apply = body["apply"].as_bool().unwrap_or(false);
    start(shared, client, name, inputs, apply, query.asynchronous).await
}

/// Checks what can be checked at once (the workflow exists, the inputs
/// match), then runs it, waiting or not.
async fn start(
    shared: Arc<Shared>,
    client: String,
    name: String,
    inputs: Value,
    apply: bool,
    asynchronous: bool,
) -> Response {
    if let Err(err) = shared
        .workflows
        .get(&name)
        .and_then(|_| shared.workflows.check_inputs(&name, &inputs))
    {
        // Refused before it runs; still audited, as every request is.
        let _ = shared.engine.record(crate::audit::Entry {
            client: client.clone(),
            request: format!("workflow {name}"),
            intent: Some("workflow".into()),
            arguments: Some(json!({"inputsSha256": super::run::digest(&inputs)}).to_string()),
            result: Some(err.to_string()),
            outcome: err.kind().into(),
            ..Default::default()
        });
        return run_error(err, None);
    }
    let id = shared.workflows.start(&name, &client);
    if asynchronous {
        let task = shared.clone();
        let run_id = id.clone();
        tokio::spawn(async move {
            let _ = task
                .workflows
                .execute(&task.engine, &run_id, &client, &name, &inputs, apply)
                .await;
        });
        return (
            StatusCode::ACCEPTED,
            Json(
                json!({"run": id, "status": "running", "href": format!("/v1/workflows/runs/{id}")}),
            ),
        )
            .into_response();
    }
    match shared
        .workflows
        .execute(&shared.engine, &id, &client, &name, &inputs, apply)
        .await
    {
        Ok(mut result) => {
            result["run"] = json!(id);
            result["workflow"] = json!(name);
            Json(result).into_response()
        }
        Err(err) => run_error(err, Some(&id)),
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    #[serde(default)]
    limit: Option<usize>,
}

async fn runs(State(shared): State<Arc<Shared>>, Query(q): Query<RunsQuery>) -> Json<Value> {
    Json(json!({"runs": shared.workflows.recent(q.limit.unwrap_or(20))}))
}

async fn run_status(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.workflows.run_record(&id) {
        Some(record) => Json(record).into_response(),
        None => crate::api::error(
            StatusCode::NOT_FOUND,
            "run_not_found",
            format!("no run `{id}` among the last {}", super::run::KEEP_RUNS),
        ),
    }
}

async fn undo(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(id): Path<String>,
) -> Response {
    let result =
        file_triage::undo_log_path(&shared.workflows.state.join("undo"), &id).and_then(|log| {
            if log.exists() {
                file_triage::undo(&log)
            } else {
                Err(RunError::Failed(format!(
                    "run `{id}` has no undo log (it moved nothing)"
                )))
            }
        });
    let audited = shared.engine.record(crate::audit::Entry {
        client,
        request: format!("workflow undo {id}"),
        intent: Some("workflow".into()),
        result: Some(match &result {
            Ok(moves) => format!("{} file(s) moved back", moves.len()),
            Err(err) => err.to_string(),
        }),
        outcome: result.as_ref().map_or_else(|e| e.kind(), |_| "ok").into(),
        ..Default::default()
    });
    if let Err(err) = audited {
        return run_error(RunError::Audit(err.to_string()), Some(&id));
    }
    match result {
        Ok(moves) => Json(json!({"run": id, "undone": moves})).into_response(),
        Err(err) => run_error(err, Some(&id)),
    }
}

/// One operation per workflow; its request body is the inputs.
async fn spec(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for (name, w) in &shared.workflows.declared {
        paths.insert(
            // Relative to the server URL: Open WebUI calls its connection
            // URL (http://HOST:9434/workflows) plus the path.
            format!("/{name}"),
            json!({"post": {
                "operationId": name.replace(['-', '.', ':'], "_"),
                "summary": name,
                "description": description(name, w),
                "requestBody": {"required": false, "content": {"application/json": {"schema": inputs_schema(w)}}},
                "responses": {"200": {"description": "The run's result", "content": {"application/json": {"schema": {}}}}}
            }}),
        );
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "hwc-ai workflows", "version": env!("CARGO_PKG_VERSION"),
                 "description": "This machine's declared AI workflows: each runs on the host and writes its result where the operator declared"},
        "servers": [{"url": "/workflows"}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }))
}

/// A tool call: the body is the inputs; a file-triage run only plans.
async fn tool_run(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let inputs = match body_json(&headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    start(
        shared,
        format!("{client} (tool server)"),
        name,
        inputs,
        false,
        false,
    )
    .await
}
