//! `hwc-ai workflow list | show NAME | run NAME [--input k=v ...] | runs`:
//! the assistant's workflows (docs/workflows.md) over its HTTP API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::{json, Map, Value};

#[derive(Debug, Subcommand)]
pub enum Action {
    /// The declared workflows (the default).
    List,
    /// One workflow, with its inputs' schema.
    Show { name: String },
    /// Run a workflow and wait for it; prints its result.
    ///
    /// Exit status: 0 done, 1 the workflow failed (bad inputs, output,
    /// model), 2 the assistant could not be asked.
    Run {
        name: String,
        /// An input, `name=value`; the value is read as JSON when it
        /// parses (`3`, `true`, `["a"]`), as text otherwise. Repeatable.
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// file-triage: move the files as planned (an undo log is kept).
        #[arg(long)]
        apply: bool,
    },
    /// The newest runs.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

pub struct Args {
    pub url: String,
    pub key_file: Option<PathBuf>,
    pub json: bool,
    pub action: Option<Action>,
}

/// `name=value` pairs as the inputs object.
pub fn parse_inputs(pairs: &[String]) -> Result<Value, String> {
    let mut inputs = Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("--input `{pair}` is not NAME=VALUE"));
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        inputs.insert(name.trim().to_owned(), value);
    }
    Ok(Value::Object(inputs))
}

async fn call(
    args: &Args,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    // A run waits for its budget; the assistant ends it, not the client.
    let client = crate::http::client(Some(Duration::from_secs(3600)));
    let url = format!("{}{path}", args.url.trim_end_matches('/'));
    let mut request = if method == "POST" {
        client.post(url).json(&body.unwrap_or_else(|| json!({})))
    } else {
        client.get(url)
    };
    if let Some(file) = &args.key_file {
        let key = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        request = request.bearer_auth(key.trim());
    }
    let response = request.send().await.map_err(|e| {
        format!(
            "cannot reach the assistant at {}: {}",
            args.url,
            crate::http::reason(e)
        )
    })?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub fn main(args: Args) -> ExitCode {
    let runtime = match crate::rt::current_thread("workflow") {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let (method, path, body) = match &args.action {
        None | Some(Action::List) => ("GET", "/v1/workflows".to_owned(), None),
        Some(Action::Show { name }) => ("GET", format!("/v1/workflows/{name}"), None),
        Some(Action::Runs { limit }) => ("GET", format!("/v1/workflows/runs?limit={limit}"), None),
        Some(Action::Run {
            name,
            inputs,
            apply,
        }) => match parse_inputs(inputs) {
            Ok(inputs) => (
                "POST",
                format!("/v1/workflows/{name}/run"),
                Some(json!({"inputs": inputs, "apply": apply})),
            ),
            Err(message) => {
                eprintln!("hwc-ai workflow: {message}");
                return ExitCode::from(2);
            }
        },
    };
    let (status, answer) = match runtime.block_on(call(&args, method, &path, body)) {
        Ok(answer) => answer,
        Err(message) => {
            eprintln!("hwc-ai workflow: {message}");
            return ExitCode::from(2);
        }
    };
    if status != 200 {
        let message = answer["error"]["message"]
            .as_str()
            .map_or_else(|| format!("the assistant answered {status}"), str::to_owned);
        eprintln!("hwc-ai workflow: {message}");
        for error in answer["error"]["validationErrors"]
            .as_array()
            .into_iter()
            .flatten()
        {
            eprintln!("  {}", text(error));
        }
        return if matches!(status, 401 | 403) || answer["error"].is_null() {
            ExitCode::from(2)
        } else {
            ExitCode::FAILURE
        };
    }
    if args.json || matches!(args.action, Some(Action::Show { .. })) {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    match &args.action {
        None | Some(Action::List) => {
            for w in answer["workflows"].as_array().into_iter().flatten() {
                println!(
                    "{:<20} {:<12} {:<18} {}",
                    text(&w["name"]),
                    text(&w["kind"]),
                    text(&w["schedule"]),
                    text(&w["description"])
                );
            }
        }
        Some(Action::Runs { .. }) => {
            for r in answer["runs"].as_array().into_iter().flatten() {
                let how = match r["error"]["kind"].as_str() {
                    Some(kind) => format!("{} ({kind})", text(&r["status"])),
                    None => text(&r["status"]),
                };
                println!(
                    "{:<28} {:<20} {:<26} {:<8} {}",
                    text(&r["id"]),
                    text(&r["workflow"]),
                    text(&r["started"]),
                    format!("{}ms", text(&r["durationMs"])),
                    how
                );
            }
        }
        _ => {
            println!("{}", text(&answer["content"]));
            for file in answer["files"].as_array().into_iter().flatten() {
                eprintln!("wrote {}", text(file));
            }
            for note in answer["notes"].as_array().into_iter().flatten() {
                eprintln!("note: {}", text(note));
            }
            eprintln!("run {}", text(&answer["run"]));
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_json_when_they_parse() {
        let inputs = parse_inputs(&[
            "lines=3".into(),
            "topic=disks".into(),
            "tags=[\"a\"]".into(),
            "q=a=b".into(),
        ])
        .unwrap();
        assert_eq!(
            inputs,
            json!({"lines": 3, "topic": "disks", "tags": ["a"], "q": "a=b"})
        );
        assert!(parse_inputs(&["nothing".into()])
            .unwrap_err()
            .contains("NAME=VALUE"));
    }
}
