//! `hwc-ai ask`, `hwc-ai chat` (the assistant), and `hwc-ai audit`
//! (its audit log, read from the file).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use hwc_ai_assistant::audit::{self, Verdict};
use serde_json::{json, Value};

/// Where the NixOS unit keeps its audit log.
pub const DEFAULT_DB: &str = "/var/lib/hwc-ai-assistant/audit.db";

/// The unit's audit log; on a machine without one, `hwc-ai up`'s.
pub fn default_db() -> PathBuf {
    let unit = PathBuf::from(DEFAULT_DB);
    if unit.exists() {
        return unit;
    }
    crate::up::user_state_directory()
        .map(|dir| dir.join("audit.db"))
        .filter(|db| db.exists())
        .unwrap_or(unit)
}

pub struct Target {
    pub url: String,
    pub key_file: Option<PathBuf>,
}

impl Target {
    fn key(&self) -> Result<Option<String>, String> {
        match &self.key_file {
            Some(file) => std::fs::read_to_string(file)
                .map(|k| Some(k.trim().to_owned()))
                .map_err(|e| format!("cannot read {}: {e}", file.display())),
            None => Ok(None),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let client = crate::http::client(Some(std::time::Duration::from_secs(180)));
        let mut request = client
            .post(format!("{}{path}", self.url.trim_end_matches('/')))
            .json(body);
        if let Some(key) = self.key()? {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            format!(
                "cannot reach the assistant at {}: {}",
                self.url,
                crate::http::reason(e)
            )
        })?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

fn failure(body: &Value, status: u16) -> String {
    body["error"]["message"]
        .as_str()
        .map_or_else(|| format!("the assistant answered {status}"), str::to_owned)
}

/// Exit status: 0 answered, 1 refused (a request to change something),
/// 2 the assistant could not answer.
pub fn ask(target: Target, question: &str) -> ExitCode {
    let body =
        json!({"model": "hwc-ai-assistant", "messages": [{"role": "user", "content": question}]});
    let rt = match crate::rt::current_thread("ask") {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    match rt.block_on(target.post("/v1/chat/completions", &body)) {
        Ok((200, answer)) => {
            println!(
                "{}",
                answer["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
            );
            if answer["hwc_ai"]["intent"] == "refused" {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok((status, body)) => {
            eprintln!("hwc-ai ask: {}", failure(&body, status));
            ExitCode::from(2)
        }
        Err(message) => {
            eprintln!("hwc-ai ask: {message}");
            ExitCode::from(2)
        }
    }
}

/// A conversation: one session, a question per line, `/quit` or end of
/// input to leave (the session is deleted then).
pub fn chat(target: Target) -> ExitCode {
    let rt = match crate::rt::current_thread("chat") {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    let id = match rt.block_on(target.post("/sessions", &json!({}))) {
        Ok((201, body)) => body["id"].as_str().unwrap_or_default().to_owned(),
        Ok((status, body)) => {
            eprintln!("hwc-ai chat: {}", failure(&body, status));
            return ExitCode::from(2);
        }
        Err(message) => {
            eprintln!("hwc-ai chat: {message}");
            return ExitCode::from(2);
        }
    };
    println!("hwc-ai-assistant (read-only). Ask about services, disks, load, containers, alerts, the AI stack; /quit to leave.");
    let stdin = std::io::stdin();
    loop {
        print!("> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            println!();
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        match rt.block_on(target.post(&format!("/sessions/{id}/messages"), &json!({"text": line})))
        {
            Ok((200, body)) => println!("{}\n", body["reply"].as_str().unwrap_or_default()),
            Ok((status, body)) => eprintln!("({})\n", failure(&body, status)),
            Err(message) => eprintln!("({message})\n"),
        }
    }
    let _ = rt.block_on(async {
        let client = crate::http::client(Some(std::time::Duration::from_secs(5)));
        let mut request = client.delete(format!(
            "{}/sessions/{id}",
            target.url.trim_end_matches('/')
        ));
        if let Ok(Some(key)) = target.key() {
            request = request.bearer_auth(key);
        }
        request.send().await
    });
    ExitCode::SUCCESS
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check the hash chain: exit 0 intact, 1 a row was edited, deleted
    /// or moved (the first one is named), 2 the log cannot be read.
    Verify,
    /// The newest rows.
    Tail {
        /// How many rows.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// One JSON object per row.
        #[arg(long)]
        json: bool,
    },
}

pub fn audit(db: &Path, action: AuditAction) -> ExitCode {
    match action {
        AuditAction::Verify => match audit::verify(db) {
            Ok(Verdict::Intact { rows, head }) => {
                println!(
                    "{}: intact, {rows} rows; newest row's hash {head}",
                    db.display()
                );
                ExitCode::SUCCESS
            }
            Ok(Verdict::Broken { id, reason }) => {
                println!("{}: BROKEN at row {id}: {reason}", db.display());
                ExitCode::FAILURE
            }
            Err(err) => {
                eprintln!("hwc-ai audit: {err}");
                ExitCode::from(2)
            }
        },
        AuditAction::Tail { lines, json } => match audit::tail_file(db, lines) {
            Ok(rows) => {
                for row in rows {
                    if json {
                        println!("{}", serde_json::to_string(&row).unwrap_or_default());
                    } else {
                        let e = &row.entry;
                        let what = match (&e.tool, &e.refusal) {
                            (Some(tool), _) => {
                                format!("tool {tool} {}", e.arguments.as_deref().unwrap_or(""))
                            }
                            (None, Some(why)) => format!("refused ({why})"),
                            (None, None) => e.intent.clone().unwrap_or_default(),
                        };
                        println!(
                            "{:>5}  {}  {:<12} {:<22} {}  {:?}",
                            row.id, row.ts, e.client, e.outcome, what, e.request
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("hwc-ai audit: {err}");
                ExitCode::from(2)
            }
        },
    }
}
