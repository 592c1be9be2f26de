//! The `prompt` kind: the operator's template filled with the inputs.
//! Without `outputSchema` it is an agent run offering the declared tools;
//! with it, the declared tools are read first and the prompt goes to the
//! router's `/execute`, which validates the answer against the schema
//! and repairs it (docs/execute.md). Either way, the declared `mcpTools`
//! are called through the MCP gateway first and their results put before
//! the prompt (`mcp.rs`).

use std::time::Duration;

use serde_json::{json, Value};

use super::config::{render, Workflow};
use super::output::File;
use super::run::{stamp, Produced, RunError, Workflows};
use crate::audit::Entry;
use crate::engine::{AgentRun, Engine};

/// The model's instructions for a workflow run.
pub const SYSTEM: &str = "You run a scheduled job on this homelab machine. Do what the \
task asks, using the tools' results where it needs data about the machine, and never guess \
them. Answer with the result only.";

pub async fn run(
    engine: &Engine,
    workflows: &Workflows,
    client: &str,
    name: &str,
    workflow: &Workflow,
    inputs: &Value,
) -> Result<Produced, RunError> {
    let budget = workflow.budget.unwrap_or_else(|| engine.budget());
    let (mcp_context, notes) = mcp_tools(engine, workflows, client, name, workflow, budget).await?;
    let prompt = format!(
        "{mcp_context}{}",
        render(workflow.prompt.as_deref().unwrap_or_default(), inputs)
    );
    let (router, _, _) = engine.router();
    let model = workflow.model.as_deref().unwrap_or(&router.model);
    let (_, time) = stamp();
    match &workflow.output_schema {
        None => {
            let mut used: Vec<String> = workflow.mcp_tools.iter().map(|c| c.label()).collect();
            let run = AgentRun {
                model,
                system: SYSTEM,
                tools: Some(&workflow.tools),
                budget,
            };
            let answer = engine
                .run_agent(client, &prompt, &run, &mut used)
                .await
                .map_err(RunError::ModelUnavailable)?;
            Ok(Produced {
                files: vec![File {
                    relative: format!("{name}-{time}.md").into(),
                    content: format!("{answer}\n"),
                }],
                content: answer,
                data: json!({"tools": used}),
                notes,
            })
        }
        Some(schema) => {
            let mut context = String::new();
            for tool in &workflow.tools {
                let result = engine
                    .tools
                    .call(tool.as_str(), &json!({}))
                    .await
                    .map_err(|e| e.to_string());
                engine
                    .record(Entry {
                        client: client.into(),
                        request: format!("workflow {name}"),
                        intent: Some("tool_call".into()),
                        tool: Some(tool.as_str().into()),
                        arguments: Some("{}".into()),
                        result: Some(match &result {
                            Ok(v) => v.to_string().chars().take(500).collect(),
                            Err(e) => e.clone(),
                        }),
                        outcome: if result.is_ok() { "ok" } else { "error" }.into(),
                        refusal: None,
                    })
                    .map_err(|e| RunError::Audit(e.to_string()))?;
                let data = match result {
                    Ok(v) => v.to_string(),
                    Err(e) => json!({"error": e}).to_string(),
                };
                context.push_str(&format!("Tool `{}` says:\n{data}\n\n", tool.as_str()));
            }
            let content =
                execute(engine, model, &format!("{context}{prompt}"), schema, budget).await?;
            let data: Value = serde_json::from_str(&content)
                .map_err(|e| RunError::Schema(format!("the router's content is not JSON: {e}")))?;
            let pretty = serde_json::to_string_pretty(&data).unwrap_or(content);
            Ok(Produced {
                files: vec![File {
                    relative: format!("{name}-{time}.json").into(),
                    content: format!("{pretty}\n"),
                }],
                content: pretty,
                data,
                notes,
            })
        }
    }
}

/// Each of the workflow's `mcpTools` called through the gateway, audited
/// as a tool call of its own: the text put before the prompt, and a note
/// for each call that failed (the run goes on; the model is told).
async fn mcp_tools(
    engine: &Engine,
    workflows: &Workflows,
    client: &str,
    name: &str,
    workflow: &Workflow,
    budget: Duration,
) -> Result<(String, Vec<String>), RunError> {
    let mut context = String::new();
    let mut notes = Vec::new();
    for call in &workflow.mcp_tools {
        let label = call.label();
        let result = workflows.mcp.call(&workflows.http, call, budget).await;
        engine
            .record(Entry {
                client: client.into(),
                request: format!("workflow {name}"),
                intent: Some("tool_call".into()),
                tool: Some(label.clone()),
                arguments: Some(call.arguments.to_string()),
                result: Some(match &result {
                    Ok(v) => v.to_string().chars().take(500).collect(),
                    Err(e) => e.clone(),
                }),
                outcome: if result.is_ok() { "ok" } else { "error" }.into(),
                refusal: None,
            })
            .map_err(|e| RunError::Audit(e.to_string()))?;
        let data = match result {
            Ok(v) => v.to_string(),
            Err(e) => {
                notes.push(format!("`{label}` failed: {e}"));
                json!({"error": e}).to_string()
            }
        };
        context.push_str(&format!("Tool `{label}` says:\n{data}\n\n"));
    }
    Ok((context, notes))
}

/// `POST /execute` on the router; the validated JSON text.
pub async fn execute(
    engine: &Engine,
    model: &str,
    prompt: &str,
    schema: &Value,
    budget: Duration,
) -> Result<String, RunError> {
    let (router, key, http) = engine.router();
    let url = format!("{}/execute", router.url.trim_end_matches('/'));
    let body = json!({
        "model_name": model,
        "system": SYSTEM,
        "prompt": prompt,
        "timeout": budget.as_secs_f64(),
        "model_params": {"json_schema": schema},
    });
    let mut request = http.post(url).json(&body).timeout(budget);
    if let Some(key) = key {
        request = request.bearer_auth(key.expose());
    }
    let response = request.send().await.map_err(|e| {
        RunError::ModelUnavailable(if e.is_timeout() {
            "the router did not answer in time".into()
        } else {
            format!("cannot reach the router: {}", e.without_url())
        })
    })?;
    let status = response.status();
    let doc: Value = response.json().await.map_err(|e| {
        RunError::ModelUnavailable(format!("the router's answer: {}", e.without_url()))
    })?;
    if status.is_success() {
        return doc["content"].as_str().map(str::to_owned).ok_or_else(|| {
            RunError::ModelUnavailable("the router's answer has no content".into())
        });
    }
    let kind = doc["error"]["kind"].as_str().unwrap_or("error");
    let message = doc["error"]["message"].as_str().unwrap_or("no message");
    let message = format!("the router answered {status} ({kind}): {message}");
    Err(match kind {
        "schema_error" => RunError::Schema(message),
        "profile_error" | "invalid_request" | "configuration_error" => RunError::Failed(message),
        _ => RunError::ModelUnavailable(message),
    })
}
