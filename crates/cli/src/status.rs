//! `hwc-ai status`: the stack's health as a table.

use std::process::ExitCode;
use std::time::SystemTime;

use hwc_ai_prober::health::Report;
use serde::Deserialize;

use crate::term;

/// The prober's `/health`, as this command reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: String,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    name: String,
    kind: String,
    state: String,
    since: Option<String>,
    last_error: Option<String>,
    models: Option<u64>,
}

/// The router's `/health`, as this command reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouterHealth {
    leaves_host: bool,
    targets: Vec<RouterTarget>,
    /// Absent from routers older than per-backend state.
    #[serde(default)]
    backends: Vec<RouterBackend>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouterBackend {
    name: String,
    in_flight: u64,
    max_concurrent: u64,
    queued: u64,
    /// Set for a backend that discovers its models.
    models: Option<BackendModels>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BackendModels {
    installed: Vec<String>,
    loaded: Vec<String>,
    listed_at: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouterTarget {
    name: String,
    local: bool,
    circuit: String,
    consecutive_failures: u64,
}

pub fn main(url: &str, router_url: &str, json: bool) -> ExitCode {
    let runtime = match crate::rt::current_thread("status") {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let (prober, router) = runtime.block_on(async { tokio::join!(fetch(url), fetch(router_url)) });
    let body = match prober {
        Ok(body) => body,
        Err(err) => {
            eprintln!("cannot reach the prober at {url}: {err}");
            eprintln!("is hwc-ai-prober running? (systemctl status hwc-ai-prober, or hwc-ai up)");
            return ExitCode::from(2);
        }
    };
    let health: Health = match serde_json::from_str(&body) {
        Ok(health) => health,
        Err(err) => {
            eprintln!("{url}/health did not answer with a prober health document: {err}");
            return ExitCode::from(2);
        }
    };
    // The router is optional: when it is not running there is no routing
    // to show (the prober reports it down if it is declared).
    let router = router.ok().and_then(|body| {
        let parsed = serde_json::from_str::<RouterHealth>(&body).ok()?;
        Some((body, parsed))
    });
    if json {
        let prober: serde_json::Value = serde_json::from_str(&body).expect("parsed above");
        let router: Option<serde_json::Value> = router
            .as_ref()
            .map(|(body, _)| serde_json::from_str(body).expect("parsed above"));
        println!(
            "{}",
            serde_json::json!({ "prober": prober, "router": router })
        );
    } else {
        let colour = term::colour();
        print!("{}", render(&health, SystemTime::now(), colour));
        if let Some((_, router)) = &router {
            print!("\n{}", render_router(router, colour));
        }
    }
    let open = router
        .as_ref()
        .is_some_and(|(_, r)| r.targets.iter().any(|t| t.circuit == "open"));
    if health.status == "ok" && !open {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn fetch(url: &str) -> Result<String, String> {
    crate::http::get(&format!("{}/health", url.trim_end_matches('/'))).await
}

/// The router's targets: where requests can go, and which are skipped.
fn render_router(health: &RouterHealth, colour: bool) -> String {
    let rows: Vec<Vec<String>> = health
        .targets
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                if t.local { "local" } else { "REMOTE" }.to_owned(),
                t.circuit.to_uppercase(),
                match t.consecutive_failures {
                    0 => String::new(),
                    n => format!("{n} consecutive failures"),
                },
            ]
        })
        .collect();
    let mut out = term::table(
        &["ROUTER TARGET", "WHERE", "CIRCUIT", "DETAIL"],
        &rows,
        |col, cell| match (col, cell) {
            (2, "CLOSED") => term::paint(cell, "32", colour),
            (2, "OPEN") => term::paint(cell, "1;31", colour),
            (2, _) => term::paint(cell, "33", colour),
            _ => cell.to_owned(),
        },
    );
    let open = health
        .targets
        .iter()
        .filter(|t| t.circuit == "open")
        .count();
    out.push_str(&format!(
        "\n{} router target{}, {}; {}\n",
        health.targets.len(),
        if health.targets.len() == 1 { "" } else { "s" },
        match open {
            0 => "none skipped".to_owned(),
            n => format!("{n} OPEN (skipped until their cooldown ends)"),
        },
        if health.leaves_host {
            "some routes can leave the host"
        } else {
            "nothing leaves the host"
        }
    ));
    out.push_str(&render_backends(&health.backends, colour));
    out
}

/// The hosts behind the router, when it discovers their models: what each
/// is doing and holds. Nothing for a router without discovery.
fn render_backends(backends: &[RouterBackend], colour: bool) -> String {
    if backends.iter().all(|b| b.models.is_none()) {
        return String::new();
    }
    let rows: Vec<Vec<String>> = backends
        .iter()
        .map(|b| {
            let models = match &b.models {
                None => String::new(),
                Some(m) if m.listed_at.is_none() => format!(
                    "not listed yet{}",
                    m.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
                Some(m) => {
                    let mut text = format!("{} installed", m.installed.len());
                    if !m.loaded.is_empty() {
                        text.push_str(&format!(", loaded: {}", m.loaded.join(" ")));
                    }
                    if let Some(e) = &m.error {
                        text.push_str(&format!(" (STALE: {e})"));
                    }
                    text
                }
            };
            vec![
                b.name.clone(),
                format!("{}/{}", b.in_flight, b.max_concurrent),
                b.queued.to_string(),
                models,
            ]
        })
        .collect();
    let table = term::table(
        &["BACKEND", "IN FLIGHT", "QUEUED", "MODELS"],
        &rows,
        |col, cell| match col {
            3 if cell.contains("STALE") || cell.starts_with("not listed") => {
                term::paint(cell, "33", colour)
            }
            _ => cell.to_owned(),
        },
    );
    format!("\n{table}")
}

fn render(health: &Health, now: SystemTime, colour: bool) -> String {
    let rows: Vec<Vec<String>> = health
        .targets
        .iter()
        .map(|t| {
            let mut detail = t.last_error.clone().unwrap_or_default();
            if t.state == "up" {
                detail.clear();
            }
            if let Some(models) = t.models {
                detail = if detail.is_empty() {
                    format!("{models} models")
                } else {
                    format!("{detail}; {models} models")
                };
            }
            vec![
                t.name.clone(),
                t.kind.clone(),
                t.state.to_uppercase(),
                t.since.as_deref().map(|s| ago(s, now)).unwrap_or_default(),
                detail,
            ]
        })
        .collect();
    let mut out = term::table(
        &["TARGET", "KIND", "STATE", "SINCE", "DETAIL"],
        &rows,
        |col, cell| match (col, cell) {
            (2, "UP") => term::paint(cell, "32", colour),
            (2, "DOWN") => term::paint(cell, "1;31", colour),
            (2, _) => term::paint(cell, "33", colour),
            _ => cell.to_owned(),
        },
    );
    let count = |state: &str| health.targets.iter().filter(|t| t.state == state).count();
    let (down, unknown) = (count("down"), count("unknown"));
    let total = health.targets.len();
    // A target is unknown until its first probes settle it (a failing one
    // turns down only after `failureThreshold` failures): in the first
    // seconds after a start, "none down" would be a promise nobody made.
    out.push_str(&match (down, unknown) {
        (0, 0) => format!("\n{total} targets, none down\n"),
        (n, 0) => format!("\n{total} targets, {n} DOWN\n"),
        (0, u) => format!("\n{total} targets, 0 down, {u} not yet known\n"),
        (n, u) => format!("\n{total} targets, {n} DOWN, {u} not yet known\n"),
    });
    out
}

/// `2026-11-22T04:14:31Z` → `3m ago`.
fn ago(rfc3339: &str, now: SystemTime) -> String {
    let Ok(then) = humantime::parse_rfc3339(rfc3339) else {
        return rfc3339.to_owned();
    };
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    let (n, unit) = match secs {
        0..60 => (secs, "s"),
        60..3600 => (secs / 60, "m"),
        3600..86400 => (secs / 3600, "h"),
        _ => (secs / 86400, "d"),
    };
    format!("{n}{unit} ago")
}

/// Keeps this reader in step with the prober's writer: a field renamed
/// there fails this build's tests, not an operator's terminal.
#[allow(dead_code)]
fn _same_shape(report: Report) -> Health {
    serde_json::from_value(serde_json::to_value(report).expect("serialise")).expect("parse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_state_since_and_reason() {
        let health: Health = serde_json::from_str(
            r#"{"status":"degraded","service":"hwc-ai-prober","version":"0","targets":[
              {"name":"ollama","kind":"ollama","state":"down","since":"2026-11-22T04:00:00Z","lastError":"connection refused"},
              {"name":"webui","kind":"open-webui","state":"up","since":"2026-11-22T03:00:00Z","lastError":"old"}]}"#,
        )
        .unwrap();
        let now = humantime::parse_rfc3339("2026-11-22T04:03:00Z").unwrap();
        let text = render(&health, now, false);
        assert!(
            text.contains("ollama  ollama      DOWN   3m ago  connection refused"),
            "{text}"
        );
        assert!(
            text.contains("webui   open-webui  UP     1h ago\n"),
            "{text}"
        );
        assert!(text.ends_with("2 targets, 1 DOWN\n"), "{text}");
    }

    /// In the first seconds every target is still unknown (its first
    /// failures are not yet enough to call it down): that is not "none
    /// down".
    #[test]
    fn targets_not_yet_known_are_counted() {
        let health: Health = serde_json::from_str(
            r#"{"status":"ok","service":"hwc-ai-prober","version":"0","targets":[
              {"name":"ollama","kind":"ollama","state":"unknown","lastError":"connection refused"},
              {"name":"webui","kind":"open-webui","state":"unknown","lastError":"connection refused"},
              {"name":"router","kind":"hwc-ai","state":"down","lastError":"connection refused"},
              {"name":"prober","kind":"hwc-ai","state":"up"}]}"#,
        )
        .unwrap();
        let now = humantime::parse_rfc3339("2026-11-22T04:03:00Z").unwrap();
        let text = render(&health, now, false);
        assert!(
            text.contains("ollama  ollama      UNKNOWN         connection refused"),
            "{text}"
        );
        assert!(
            text.ends_with("4 targets, 1 DOWN, 2 not yet known\n"),
            "{text}"
        );
        let all_unknown: Health = serde_json::from_str(
            r#"{"status":"ok","service":"hwc-ai-prober","version":"0","targets":[
              {"name":"ollama","kind":"ollama","state":"unknown","lastError":"connection refused"},
              {"name":"prober","kind":"hwc-ai","state":"up"}]}"#,
        )
        .unwrap();
        let text = render(&all_unknown, now, false);
        assert!(
            text.ends_with("2 targets, 0 down, 1 not yet known\n"),
            "{text}"
        );
    }

    #[test]
    fn reads_what_the_prober_writes() {
        let report = Report {
            status: "ok",
            service: "hwc-ai-prober",
            version: "0",
            targets: vec![],
        };
        assert_eq!(_same_shape(report).status, "ok");
    }

    #[test]
    fn router_table_shows_circuits_and_where_requests_go() {
        let health: RouterHealth = serde_json::from_str(
            r#"{"status":"ok","leavesHost":true,"routes":[],"targets":[
              {"name":"ollama/qwen3:8b","backend":"ollama","model":"qwen3:8b","local":true,"circuit":"open","consecutiveFailures":3},
              {"name":"openai/gpt-4o-mini","backend":"openai","model":"gpt-4o-mini","local":false,"circuit":"closed","consecutiveFailures":0}]}"#,
        )
        .unwrap();
        let text = render_router(&health, false);
        assert!(
            text.contains("ollama/qwen3:8b     local   OPEN     3 consecutive failures"),
            "{text}"
        );
        assert!(
            text.contains("openai/gpt-4o-mini  REMOTE  CLOSED\n"),
            "{text}"
        );
        assert!(
            text.ends_with("2 router targets, 1 OPEN (skipped until their cooldown ends); some routes can leave the host\n"),
            "{text}"
        );
    }

    #[test]
    fn hosts_behind_the_router_show_their_load_and_models() {
        let health: RouterHealth = serde_json::from_str(
            r#"{"status":"ok","leavesHost":true,"routes":[],"targets":[
              {"name":"desk/*","backend":"desk","model":null,"local":true,"circuit":"closed","consecutiveFailures":0}],
              "backends":[
              {"name":"desk","local":true,"inFlight":2,"maxConcurrent":4,"queued":0,"maxQueue":null,
               "models":{"installed":["llama3.2:3b","qwen3:8b"],"loaded":["qwen3:8b"],"listedAt":"2026-12-05T18:00:00Z","error":null}},
              {"name":"gpu1","local":false,"inFlight":8,"maxConcurrent":8,"queued":3,"maxQueue":16,
               "models":{"installed":["qwen3:8b"],"loaded":[],"listedAt":"2026-12-05T18:00:00Z","error":"cannot connect"}}]}"#,
        )
        .unwrap();
        let text = render_router(&health, false);
        assert!(
            text.contains("desk     2/4        0       2 installed, loaded: qwen3:8b\n"),
            "{text}"
        );
        assert!(
            text.contains("gpu1     8/8        3       1 installed (STALE: cannot connect)"),
            "{text}"
        );
        // Without discovery, the table is not shown.
        let plain: RouterHealth = serde_json::from_str(
            r#"{"leavesHost":false,"targets":[],"backends":[
              {"name":"ollama","local":true,"inFlight":0,"maxConcurrent":16,"queued":0,"maxQueue":null}]}"#,
        )
        .unwrap();
        assert!(!render_router(&plain, false).contains("BACKEND"));
    }
}
