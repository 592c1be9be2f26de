//! Argo CD, read-only: applications with their sync and health status,
//! and one application's last sync (its result, its error, the resources
//! that failed), through Argo CD's REST API with a read-only token.
//!
//! Every request goes through [`ArgoCd::get`]: `GET` only, and only
//! `/api/v1/applications` or one application under it ([`allowed`]). No
//! sync, no rollback, no delete exists here. Answers carry chosen status
//! fields, never an application's spec (Helm values can hold secrets).

use serde_json::{json, Value};

use super::service::{self, cut, fit, with_omitted, Service};
use super::{ToolError, ToolName};
use crate::config::ArgoCdConfig;
use hwc_ai_runtime::{ConfigError, Secret};

/// The most bytes read of one answer (every application of a big
/// instance, with their resource trees).
const MAX_BODY: usize = 16 << 20;

/// An application's name (a Kubernetes name): nothing that changes the
/// path.
const NAME: &str = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";

pub struct ArgoCd {
    service: Service,
    token: Secret,
}

/// Whether `path` is one these tools may read.
pub fn allowed(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "v1", "applications"] => true,
        ["api", "v1", "applications", name] => {
            !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                && !name.starts_with('.')
        }
        _ => false,
    }
}

pub fn description(tool: ToolName) -> &'static str {
    match tool {
        ToolName::ArgocdApps => "Argo CD applications: sync status (Synced/OutOfSync), health (Healthy/Degraded/...), revision, and the last sync's phase; optionally only the ones with a problem.",
        ToolName::ArgocdApp => "One Argo CD application: sync and health with their messages, conditions (e.g. ComparisonError), the last sync's result and error, and the resources that are out of sync, unhealthy or failed to sync.",
        _ => "",
    }
}

pub fn parameters(tool: ToolName) -> Value {
    match tool {
        ToolName::ArgocdApps => json!({
            "type": "object",
            "properties": {
                "problems_only": {"type": "boolean", "description": "Only applications out of sync, not healthy, or whose last sync failed"},
                "project": {"type": "string", "pattern": NAME, "maxLength": 253, "description": "Only this Argo CD project"}
            },
            "additionalProperties": false
        }),
        _ => json!({
            "type": "object",
            "properties": {"name": {"type": "string", "pattern": NAME, "maxLength": 253, "description": "The application's name"}},
            "required": ["name"],
            "additionalProperties": false
        }),
    }
}

impl ArgoCd {
    pub fn new(config: &ArgoCdConfig) -> Result<Self, ConfigError> {
        let token = config.token.read("argocd.token")?;
        Ok(Self {
            service: Service {
                name: "Argo CD",
                base: config.url.clone(),
                client: service::client(config.ca_file.clone(), "argocd")?,
                timeout: config.timeout,
                max_body: MAX_BODY,
            },
            token,
        })
    }

    pub async fn call(&self, tool: ToolName, a: &Value) -> Result<Value, ToolError> {
        match tool {
            ToolName::ArgocdApps => {
                self.apps(
                    a["problems_only"].as_bool().unwrap_or(false),
                    a["project"].as_str(),
                )
                .await
            }
            ToolName::ArgocdApp => self.app(a["name"].as_str().unwrap_or_default()).await,
            other => Err(ToolError::Unknown(other.as_str().to_owned())),
        }
    }

    /// `GET path?query` for an [`allowed`] path, as JSON, bounded.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ToolError> {
        if !allowed(path) {
            return Err(ToolError::Failed(format!(
                "`{path}` is outside the Argo CD tools' read-only set"
            )));
        }
        let mut url = self.service.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self
            .service
            .client
            .get(url)
            .bearer_auth(self.token.expose());
        let (status, body) = self.service.fetch(request, path).await?;
        if !status.is_success() {
            return Err(status_error(&self.service, status, path, &body));
        }
        self.service.json(path, &body)
    }

    pub async fn apps(
        &self,
        problems_only: bool,
        project: Option<&str>,
    ) -> Result<Value, ToolError> {
        let query: Vec<(&str, &str)> = project.map(|p| ("projects", p)).into_iter().collect();
        let list = self.get("/api/v1/applications", &query).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let total = items.len();
        let summaries: Vec<Value> = items.iter().map(summary).collect();
        let problems = summaries.iter().filter(|s| s["problem"] == true).count();
        let (apps, omitted) = fit(summaries
            .into_iter()
            .filter(|s| !problems_only || s["problem"] == true));
        Ok(with_omitted(
            json!({"applications": apps, "total": total, "withProblems": problems}),
            omitted,
        ))
    }

    pub async fn app(&self, name: &str) -> Result<Value, ToolError> {
        let app = self
            .get(&format!("/api/v1/applications/{name}"), &[])
            .await?;
        let s = &app["status"];
        let op = &s["operationState"];
        let failed_sync: Vec<Value> = op["syncResult"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"].as_str().is_some_and(|st| st != "Synced"))
            .take(30)
            .map(|r| {
                json!({
                    "kind": r["kind"], "namespace": r["namespace"], "name": r["name"],
                    "status": r["status"], "hookPhase": r["hookPhase"],
                    "message": cut(r["message"].as_str().unwrap_or_default(), 300),
                })
            })
            .collect();
        let (resources, omitted) = fit(s["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["status"].as_str().is_some_and(|st| st != "Synced")
                    || r["health"]["status"]
                        .as_str()
                        .is_some_and(|h| h != "Healthy")
            })
            .take(40)
            .map(|r| {
                json!({
                    "kind": r["kind"], "namespace": r["namespace"], "name": r["name"],
                    "sync": r["status"], "health": r["health"]["status"],
                    "message": cut(r["health"]["message"].as_str().unwrap_or_default(), 200),
                })
            }));
        let conditions: Vec<Value> = s["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .take(10)
            .map(|c| json!({"type": c["type"], "message": cut(c["message"].as_str().unwrap_or_default(), 400)}))
            .collect();
        let mut out = summary(&app);
        out["healthMessage"] = json!(cut(
            s["health"]["message"].as_str().unwrap_or_default(),
            300
        ));
        out["conditions"] = json!(conditions);
        out["lastSync"] = json!({
            "phase": op["phase"],
            "message": cut(op["message"].as_str().unwrap_or_default(), 600),
            "startedAt": op["startedAt"],
            "finishedAt": op["finishedAt"],
            "revision": op["syncResult"]["revision"],
            "failedResources": failed_sync,
        });
        out["problemResources"] = json!(resources);
        Ok(with_omitted(out, omitted))
    }
}

/// One application's status, in a line's worth of fields.
fn summary(app: &Value) -> Value {
    let s = &app["status"];
    let sync = s["sync"]["status"].as_str().unwrap_or("Unknown");
    let health = s["health"]["status"].as_str().unwrap_or("Unknown");
    let phase = s["operationState"]["phase"].as_str();
    let problem =
        sync != "Synced" || health != "Healthy" || matches!(phase, Some("Failed" | "Error"));
    json!({
        "name": app["metadata"]["name"],
        "project": app["spec"]["project"],
        "destination": app["spec"]["destination"]["namespace"],
        "sync": sync,
        "health": health,
        "revision": s["sync"]["revision"],
        "lastSyncPhase": phase,
        "lastSyncFinished": s["operationState"]["finishedAt"],
        "problem": problem,
    })
}

/// An error answer, named: 401 (the token), 403 (its rights; Argo CD also
/// answers 403 for an application that does not exist, so as not to say
/// which exist), 404.
fn status_error(
    service: &Service,
    status: reqwest::StatusCode,
    path: &str,
    body: &[u8],
) -> ToolError {
    let message = service::error_message(body);
    let why = match status.as_u16() {
        401 => "the token is not accepted (missing, expired or revoked)",
        403 => "the token may not read this, or there is no such application",
        404 => "not found",
        _ => "the request failed",
    };
    service.refused(status, path, why, &message)
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn only_applications_are_read() {
        assert!(allowed("/api/v1/applications"));
        assert!(allowed("/api/v1/applications/ingress"));
        for path in [
            "/api/v1/applications/ingress/sync",
            "/api/v1/applications/ingress/rollback",
            "/api/v1/applications/ingress/manifests",
            "/api/v1/applications/ingress/resource",
            "/api/v1/applications/..",
            "/api/v1/session",
            "/api/v1/repositories",
            "/api/v1/clusters",
        ] {
            assert!(!allowed(path), "{path}");
        }
    }
}
