//! `hwc-ai smoke`: checks a router the way a service that depends on it
//! would: `/health`, then a fixture `/execute` with a schema (a daily
//! triage report), then the answer parsed and validated here, with its
//! latency against the budget.
//!
//! Exit status: 0 pass; 1 the answer failed the schema (the router's
//! `schema_error`, or content that does not validate here); 2 transport
//! (the router cannot be reached or does not answer in its shape); 3 the
//! router answered with another error (provider, timeout, profile,
//! configuration).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::reason;
use crate::term;

pub const SCHEMA: &str = include_str!("smoke/triage.schema.json");
pub const PROMPT: &str = include_str!("smoke/triage.prompt.txt");

pub struct Args {
    pub url: String,
    pub model: Option<String>,
    pub budget: Duration,
    pub key_file: Option<std::path::PathBuf>,
}

/// How a smoke run ended, and its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass = 0,
    Schema = 1,
    Transport = 2,
    Provider = 3,
}

struct Report {
    lines: Vec<(&'static str, bool, String)>,
    colour: bool,
}

impl Report {
    fn line(&mut self, step: &'static str, ok: bool, detail: String) {
        let mark = if ok {
            term::paint("ok  ", "32", self.colour)
        } else {
            term::paint("FAIL", "1;31", self.colour)
        };
        println!("{step:<8} {mark}  {detail}");
        self.lines.push((step, ok, detail));
    }
}

pub fn main(args: Args) -> ExitCode {
    let runtime = match crate::rt::current_thread("smoke") {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let mut report = Report {
        lines: Vec::new(),
        colour: term::colour(),
    };
    let verdict = runtime.block_on(run(&args, &mut report));
    match verdict {
        Verdict::Pass => println!("PASS"),
        Verdict::Schema => println!("FAIL: the answer does not match the schema"),
        Verdict::Transport => println!("FAIL: transport: the router could not be asked"),
        Verdict::Provider => println!("FAIL: the router answered with an error"),
    }
    ExitCode::from(verdict as u8)
}

async fn run(args: &Args, report: &mut Report) -> Verdict {
    let base = args.url.trim_end_matches('/');
    let key = match &args.key_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(key) => Some(key.trim().to_owned()),
            Err(err) => {
                report.line(
                    "key",
                    false,
                    format!("cannot read {}: {err}", path.display()),
                );
                return Verdict::Transport;
            }
        },
        None => None,
    };
    let client = crate::http::client(Some(args.budget + Duration::from_secs(5)));
    let with_key = |request: reqwest::RequestBuilder| match &key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };

    let started = Instant::now();
    let health = match client.get(format!("{base}/health")).send().await {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
        Ok(r) => {
            report.line(
                "health",
                false,
                format!("{base}/health answered {}", r.status()),
            );
            return Verdict::Transport;
        }
        Err(err) => {
            report.line(
                "health",
                false,
                format!("cannot reach {base}: {}", reason(err)),
            );
            return Verdict::Transport;
        }
    };
    let status = health
        .as_ref()
        .and_then(|h| h["status"].as_str())
        .unwrap_or("unknown")
        .to_owned();
    report.line(
        "health",
        status == "ok",
        format!("{status} ({} ms)", started.elapsed().as_millis()),
    );

    let model = match &args.model {
        Some(model) => model.clone(),
        None => match first_model(&client, base, &with_key).await {
            Some(model) => model,
            None => {
                report.line(
                    "model",
                    false,
                    "no --model given and GET /v1/models lists none".into(),
                );
                return Verdict::Provider;
            }
        },
    };
    let schema: Value = serde_json::from_str(SCHEMA).expect("the bundled schema is JSON");
    let run = json!({
        "model_name": model,
        "system": "You write triage reports as JSON that follows the given schema exactly.",
        "prompt": PROMPT,
        "temperature": 0,
        "timeout": args.budget.as_secs_f64(),
        "model_params": {"json_schema": schema},
    });
    let started = Instant::now();
    let response = with_key(client.post(format!("{base}/execute")).json(&run))
        .send()
        .await;
    let latency = started.elapsed();
    let within = format!(
        "{} ms of a {} budget",
        latency.as_millis(),
        humantime::format_duration(args.budget)
    );
    let response = match response {
        Ok(response) => response,
        Err(err) => {
            report.line("execute", false, format!("{}; {within}", reason(err)));
            return Verdict::Transport;
        }
    };
    let http = response.status();
    let Ok(body) = response.json::<Value>().await else {
        report.line(
            "execute",
            false,
            format!("answered {http} without a JSON body; {within}"),
        );
        return Verdict::Transport;
    };
    if let Some(error) = body.get("error") {
        let kind = error["kind"].as_str().unwrap_or("unknown");
        let message = error["message"].as_str().unwrap_or("");
        report.line(
            "execute",
            false,
            format!("{kind} ({}): {message}; {within}", http.as_u16()),
        );
        for attempt in error["attempts"].as_array().into_iter().flatten() {
            let errors = attempt["validation_errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            println!(
                "           attempt {} {}: {}",
                attempt["target"].as_str().unwrap_or("?"),
                attempt["outcome"].as_str().unwrap_or("?"),
                if errors.is_empty() {
                    attempt["message"].as_str().unwrap_or("")
                } else {
                    &errors
                }
            );
        }
        return if kind == "schema_error" {
            Verdict::Schema
        } else {
            Verdict::Provider
        };
    }
    let Some(content) = body["content"].as_str() else {
        report.line(
            "execute",
            false,
            format!("answered {http} without `content`; {within}"),
        );
        return Verdict::Transport;
    };
    let attempts = body["attempts"].as_array().map_or(0, Vec::len);
    report.line(
        "execute",
        latency <= args.budget,
        format!(
            "{model} via {}, {attempts} attempt(s), {within}",
            body["target"].as_str().unwrap_or("?")
        ),
    );
    let verdict = match check(&schema, content) {
        Ok(items) => {
            report.line("schema", true, format!("valid: {items} item(s)"));
            Verdict::Pass
        }
        Err(why) => {
            report.line("schema", false, why);
            Verdict::Schema
        }
    };
    if verdict == Verdict::Pass && latency > args.budget {
        return Verdict::Provider;
    }
    verdict
}

/// Validates `content` against the schema here, whatever the router said.
fn check(schema: &Value, content: &str) -> Result<usize, String> {
    let value: Value =
        serde_json::from_str(content).map_err(|e| format!("`content` is not JSON: {e}"))?;
    let validator = jsonschema::validator_for(schema).expect("the bundled schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(value["items"].as_array().map_or(0, Vec::len))
    } else {
        Err(errors.join("; "))
    }
}

async fn first_model(
    client: &reqwest::Client,
    base: &str,
    with_key: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Option<String> {
    let list: Value = with_key(client.get(format!("{base}/v1/models")))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    list["data"][0]["id"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_schema_accepts_a_real_report_and_refuses_a_wrong_one() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let good = r#"{"date": "2026-11-22", "items": [{"id": "HL-103", "title": "Ollama disk 91% full",
            "businessValue": 8, "timeCriticality": 9, "riskReduction": 8, "jobSize": 2, "wsjf": 12.5,
            "recommendation": "do-now"}]}"#;
        assert_eq!(check(&schema, good), Ok(1));
        let wrong = good.replace("do-now", "later");
        assert!(check(&schema, &wrong)
            .unwrap_err()
            .contains("/items/0/recommendation"));
        assert!(check(&schema, "no")
            .unwrap_err()
            .starts_with("`content` is not JSON"));
    }
}
