//! `hwc-ai mcp`: the MCP gateway's servers; `hwc-ai mcp tools NAME`: one
//! server's tools. Both read the gateway's `/servers`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use crate::term::{colour, paint, table};

#[derive(Debug, Subcommand)]
pub enum Action {
    /// One server's tools as clients see them (after allow, deny,
    /// readOnly): name, hints, first line of the description.
    Tools {
        /// The server's name.
        name: String,
    },
}

pub struct Args {
    pub url: String,
    pub key_file: Option<PathBuf>,
    pub json: bool,
    pub action: Option<Action>,
}

/// Exit status: 0 every server up, 1 some server not up (or the named
/// server unknown), 2 the gateway cannot be reached or refused the key.
pub fn main(args: Args) -> ExitCode {
    let runtime = match crate::rt::current_thread("mcp") {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let base = args.url.trim_end_matches('/').to_owned();
    let path = match &args.action {
        None => "/servers".to_owned(),
        Some(Action::Tools { name }) => format!("/servers/{name}"),
    };
    let document = match runtime.block_on(fetch(&base, &path, args.key_file.as_deref())) {
        Ok(document) => document,
        Err((code, message)) => {
            eprintln!("hwc-ai mcp: {message}");
            return ExitCode::from(code);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    }
    match args.action {
        None => servers(&document, args.json),
        Some(Action::Tools { .. }) => tools(&document, args.json),
    }
}

/// The document at `path`; errors carry the exit status.
async fn fetch(
    base: &str,
    path: &str,
    key_file: Option<&std::path::Path>,
) -> Result<Value, (u8, String)> {
    let key = match key_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|err| (2, format!("cannot read {}: {err}", file.display())))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let mut request =
        crate::http::client(Some(std::time::Duration::from_secs(20))).get(format!("{base}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|err| {
        (
            2,
            format!(
                "cannot reach the gateway at {base}: {}",
                crate::http::reason(err)
            ),
        )
    })?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match status {
        200 => Ok(body),
        401 | 403 => Err((
            2,
            format!("the gateway refused the request ({status}): pass --key-file"),
        )),
        404 => Err((
            1,
            body["error"]["message"]
                .as_str()
                .unwrap_or("not found")
                .to_owned(),
        )),
        _ => Err((2, format!("the gateway answered {status}"))),
    }
}

fn servers(document: &Value, json: bool) -> ExitCode {
    let empty = Vec::new();
    let list = document["servers"].as_array().unwrap_or(&empty);
    let all_up = list.iter().all(|s| s["state"] == "up");
    if !json {
        if list.is_empty() {
            println!("no MCP servers are declared");
        } else {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|s| {
                    vec![
                        text(&s["name"]),
                        text(&s["state"]),
                        s["tools"].as_array().map_or(0, Vec::len).to_string(),
                        text(&s["transport"]),
                        s["restarts"].as_u64().unwrap_or(0).to_string(),
                        text(&s["lastError"]),
                    ]
                })
                .collect();
            let on = colour();
            print!(
                "{}",
                table(
                    &[
                        "SERVER",
                        "STATE",
                        "TOOLS",
                        "TRANSPORT",
                        "RESTARTS",
                        "LAST ERROR"
                    ],
                    &rows,
                    |col, cell| {
                        match (col, cell) {
                            (1, "up") => paint(cell, "32", on),
                            (1, _) => paint(cell, "31", on),
                            _ => cell.to_owned(),
                        }
                    }
                )
            );
        }
    }
    if all_up {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn tools(server: &Value, json: bool) -> ExitCode {
    if !json {
        let empty = Vec::new();
        let rows: Vec<Vec<String>> = server["tools"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|t| {
                let a = &t["annotations"];
                let hints = [
                    (a["readOnlyHint"] == true).then_some("read-only"),
                    (a["destructiveHint"] == true).then_some("destructive"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(",");
                let description = text(&t["description"]);
                let first = description.lines().next().unwrap_or_default().to_owned();
                vec![text(&t["name"]), hints, first]
            })
            .collect();
        print!(
            "{}",
            table(&["TOOL", "HINTS", "DESCRIPTION"], &rows, |_, c| c
                .to_owned())
        );
        let hidden = server["hiddenTools"].as_u64().unwrap_or(0);
        if hidden > 0 {
            println!("({hidden} more hidden by the gateway's tools.allow, tools.deny or readOnly)");
        }
        if server["state"] != "up" {
            println!(
                "server `{}` is {}: {}",
                text(&server["name"]),
                text(&server["state"]),
                text(&server["lastError"])
            );
        }
    }
    if server["state"] == "up" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
