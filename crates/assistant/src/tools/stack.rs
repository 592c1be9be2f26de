//! `ai_stack` (the hwc-ai daemons' own views) and `alerts` (Alertmanager
//! or Prometheus).

use serde_json::{json, Value};

use super::{get, ToolError};
use crate::config::StackConfig;

/// Prober targets, declared models, router circuits: each part says
/// `unavailable` with the reason when its daemon does not answer.
pub async fn ai_stack(client: &reqwest::Client, stack: &StackConfig) -> Result<Value, ToolError> {
    let part = |r: Result<Value, ToolError>, f: fn(&Value) -> Value| match r {
        Ok(doc) => f(&doc),
        Err(e) => json!({"unavailable": e.to_string()}),
    };
    let urls = [
        format!("{}/health", stack.prober_url.trim_end_matches('/')),
        format!("{}/models", stack.puller_url.trim_end_matches('/')),
        format!("{}/health", stack.router_url.trim_end_matches('/')),
    ];
    let (prober, puller, router) = tokio::join!(
        get::json(client, &urls[0]),
        get::json(client, &urls[1]),
        get::json(client, &urls[2]),
    );
    Ok(json!({
        "prober": part(prober, |d| {
            let targets: Vec<Value> = d["targets"].as_array().into_iter().flatten().map(|t| json!({
                "name": t["name"], "kind": t["kind"], "state": t["state"],
                "since": t["since"], "lastError": t["lastError"],
            })).collect();
            json!({"targets": targets})
        }),
        "puller": part(puller, |d| {
            let models: Vec<Value> = d["models"].as_array().into_iter().flatten().map(|m| json!({
                "name": m["name"], "declared": m["declared"], "state": m["state"],
                "present": m["present"], "error": m["error"],
            })).collect();
            json!({"models": models, "ollamaReachable": d["ollama"]["reachable"], "disk": d["disk"]})
        }),
        "router": part(router, |d| {
            let targets: Vec<Value> = d["targets"].as_array().into_iter().flatten().map(|t| json!({
                "name": t["name"], "circuit": t["circuit"], "local": t["local"],
            })).collect();
            json!({"status": d["status"], "targets": targets})
        }),
    }))
}

/// Active alerts: Alertmanager's `/api/v2/alerts`, else Prometheus's
/// `/api/v1/alerts` (firing ones).
pub async fn alerts(
    client: &reqwest::Client,
    alertmanager: Option<&str>,
    prometheus: Option<&str>,
) -> Result<Value, ToolError> {
    if let Some(base) = alertmanager {
        let doc = get::json(
            client,
            &format!("{base}/api/v2/alerts?active=true&silenced=false&inhibited=false"),
        )
        .await?;
        let alerts: Vec<Value> = doc.as_array().into_iter().flatten().map(|a| json!({
            "name": a["labels"]["alertname"],
            "severity": a["labels"]["severity"],
            "summary": a["annotations"]["summary"].as_str().or(a["annotations"]["description"].as_str()),
            "since": a["startsAt"],
            "labels": a["labels"],
        })).collect();
        return Ok(json!({"source": "alertmanager", "alerts": alerts}));
    }
    if let Some(base) = prometheus {
        let doc = get::json(client, &format!("{base}/api/v1/alerts")).await?;
        let alerts: Vec<Value> = doc["data"]["alerts"].as_array().into_iter().flatten()
            .filter(|a| a["state"] == "firing")
            .map(|a| json!({
                "name": a["labels"]["alertname"],
                "severity": a["labels"]["severity"],
                "summary": a["annotations"]["summary"].as_str().or(a["annotations"]["description"].as_str()),
                "since": a["activeAt"],
                "labels": a["labels"],
            })).collect();
        return Ok(json!({"source": "prometheus", "alerts": alerts}));
    }
    Err(ToolError::Unavailable(
        "no Alertmanager or Prometheus is configured (alerts)".into(),
    ))
}
