//! The `journal` kind: a dated Markdown digest of the host, written from
//! the tools' data (failed units, what failed or restarted in the last
//! day with its error lines, disks, the AI stack, alerts). The model adds
//! a summary on top when it is reachable; when it is not, the digest is
//! written without one and says so.

use serde_json::{json, Value};

use super::config::Workflow;
use super::output::File;
use super::run::{stamp, Produced, RunError};
use crate::audit::Entry;
use crate::direct::describe;
use crate::engine::{AgentRun, Engine};
use crate::tools::ToolName;

/// The digest's sections: the tool, its arguments, the heading.
const SECTIONS: [(ToolName, &str, &str); 5] = [
    (
        ToolName::Services,
        r#"{"filter": "failed"}"#,
        "Failed units",
    ),
    (
        ToolName::RecentFailures,
        r#"{"hours": 24}"#,
        "The last 24 hours",
    ),
    (ToolName::DiskUsage, "{}", "Disks"),
    (ToolName::AiStack, "{}", "AI stack"),
    (ToolName::Alerts, "{}", "Alerts"),
];

const SYSTEM: &str = "You write the daily journal of a homelab machine. From the digest \
given, write a summary of three to six sentences: what needs attention first, then what is \
fine. Use only the digest's facts; name units, disks and alerts.";

pub async fn run(
    engine: &Engine,
    client: &str,
    name: &str,
    workflow: &Workflow,
) -> Result<Produced, RunError> {
    let sections: Vec<_> = SECTIONS
        .iter()
        .filter(|(tool, _, _)| workflow.tools.is_empty() || workflow.tools.contains(tool))
        .collect();
    let results =
        futures_util::future::join_all(sections.iter().map(|(tool, args, _)| async move {
            let args: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
            let result = engine
                .tools
                .call(tool.as_str(), &args)
                .await
                .map_err(|e| e.to_string());
            (args, result)
        }))
        .await;
    let (date, _) = stamp();
    let mut body = String::new();
    for ((tool, _, heading), (args, result)) in sections.iter().zip(&results) {
        engine
            .record(Entry {
                client: client.into(),
                request: format!("workflow {name}"),
                intent: Some("tool_call".into()),
                tool: Some(tool.as_str().into()),
                arguments: Some(args.to_string()),
                result: Some(match result {
                    Ok(v) => v.to_string().chars().take(500).collect(),
                    Err(e) => e.clone(),
                }),
                outcome: if result.is_ok() { "ok" } else { "error" }.into(),
                refusal: None,
            })
            .map_err(|e| RunError::Audit(e.to_string()))?;
        body.push_str(&format!("\n## {heading}\n\n"));
        match result {
            Ok(value) => {
                let mut lines = describe(*tool, value);
                if *tool == ToolName::RecentFailures {
                    for entry in value["journal"].as_array().into_iter().flatten() {
                        lines.push(format!(
                            "  - `{}` {}: {}",
                            entry["unit"].as_str().unwrap_or("?"),
                            entry["time"].as_str().unwrap_or("?"),
                            entry["message"].as_str().unwrap_or("")
                        ));
                    }
                    if let Some(why) = value["journalUnavailable"].as_str() {
                        lines.push(format!("- The journal could not be read: {why}."));
                    }
                }
                if lines.is_empty() {
                    lines.push("- Nothing to report.".into());
                }
                body.push_str(&lines.join("\n"));
            }
            Err(error) => body.push_str(&format!("- Could not be read: {error}.")),
        }
        body.push('\n');
    }
    let mut notes = Vec::new();
    let (router, _, _) = engine.router();
    let model = workflow.model.as_deref().unwrap_or(&router.model);
    let mut task = format!("The digest of {date}:\n{body}");
    if let Some(extra) = &workflow.prompt {
        task.push_str(&format!("\n{extra}"));
    }
    let run = AgentRun {
        model,
        system: SYSTEM,
        tools: Some(&[]),
        budget: workflow.budget.unwrap_or_else(|| engine.budget()) / 2,
    };
    let summary = match engine.run_agent(client, &task, &run, &mut Vec::new()).await {
        Ok(summary) => summary,
        Err(reason) => {
            let note = format!("No summary: the model was not available ({reason}).");
            notes.push(note.clone());
            format!("_{note}_")
        }
    };
    let content = format!("# Journal {date}\n\n{summary}\n{body}");
    Ok(Produced {
        files: vec![File {
            relative: format!("{name}-{date}.md").into(),
            content: content.clone(),
        }],
        content,
        data: json!({"date": date, "summarised": notes.is_empty()}),
        notes,
    })
}
