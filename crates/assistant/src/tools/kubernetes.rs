//! Kubernetes, read-only: namespaces, pods, workloads, warning events, a
//! pod's log tail and nodes, through the API server with a read-only
//! token and the cluster's CA.
//!
//! Plain HTTP rather than kube-rs: six `GET`s of well-known paths need no
//! watch machinery, no generated types for every API group, and no second
//! TLS stack; the build stays as small as the rest of the daemon.
//!
//! Every request goes through [`Kubernetes::get`], which issues only `GET`
//! and only to the paths [`allowed`] admits: namespaces, pods and their
//! logs, events, nodes, deployments, statefulsets and daemonsets. A
//! Secret is never one of them, whatever the token may read; and the
//! answers carry chosen fields only (never a pod's spec, where an
//! environment variable can hold a literal value).

use serde_json::{json, Value};

use super::service::{self, cut, fit, with_omitted, Service};
use super::{ToolError, ToolName};
use crate::config::KubernetesConfig;
use hwc_ai_runtime::{ConfigError, Secret};

/// The most bytes read of one answer (a listing of a big cluster).
const MAX_BODY: usize = 8 << 20;
/// The most characters of a log passed on: its last ones.
const MAX_LOG: usize = 10_000;

pub struct Kubernetes {
    service: Service,
    token: Secret,
}

/// Whether `path` (no query) is one this tool family may read: the
/// read-only set, and nothing under `secrets` whatever else matches.
pub fn allowed(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && s != "."
            && s != ".."
    };
    // The resource is always a literal below: `secrets` is none of them,
    // while a namespace or a pod may be called so.
    match segments.as_slice() {
        ["api", "v1", "namespaces" | "nodes" | "pods" | "events"] => true,
        ["api", "v1", "namespaces", ns, "pods" | "events"] => name(ns),
        ["api", "v1", "namespaces", ns, "pods", pod, "log"] => name(ns) && name(pod),
        ["apis", "apps", "v1", "deployments" | "statefulsets" | "daemonsets"] => true,
        ["apis", "apps", "v1", "namespaces", ns, "deployments" | "statefulsets" | "daemonsets"] => {
            name(ns)
        }
        _ => false,
    }
}

impl Kubernetes {
    /// Reads the token and the cluster CA.
    pub fn new(config: &KubernetesConfig) -> Result<Self, ConfigError> {
        let token = config.token.read("kubernetes.token")?;
        Ok(Self {
            service: Service {
                name: "Kubernetes",
                base: config.url.clone(),
                client: service::client(config.ca_file.clone(), "kubernetes")?,
                timeout: config.timeout,
                max_body: MAX_BODY,
            },
            token,
        })
    }

    /// `GET path?query`, only for an [`allowed`] path; the body as text,
    /// bounded. Errors name what went wrong without the token or the URL's
    /// query.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, ToolError> {
        if !allowed(path) {
            return Err(ToolError::Failed(format!(
                "`{path}` is outside the Kubernetes tools' read-only set (Secrets are never read)"
            )));
        }
        let mut url = self.service.url(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let request = self
            .service
            .client
            .get(url)
            .bearer_auth(self.token.expose())
            .header("accept", "application/json");
        let (status, body) = self.service.fetch(request, path).await?;
        if !status.is_success() {
            return Err(status_error(&self.service, status, path, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ToolError> {
        let text = self.get(path, query).await?;
        self.service.json(path, text.as_bytes())
    }

    /// `items` of a list, at most `service::MAX_ITEMS` through `f`, the rest
    /// counted.
    async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        f: impl Fn(&Value) -> Value,
    ) -> Result<(Vec<Value>, usize), ToolError> {
        let mut query = query.to_vec();
        query.push(("limit", "500".into()));
        let list = self.get_json(path, &query).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        Ok(fit(items.iter().map(f)))
    }

    pub async fn namespaces(&self) -> Result<Value, ToolError> {
        let (items, omitted) = self
            .list("/api/v1/namespaces", &[], |n| {
                json!({
                    "name": n["metadata"]["name"],
                    "phase": n["status"]["phase"],
                    "created": n["metadata"]["creationTimestamp"],
                })
            })
            .await?;
        Ok(with_omitted(json!({"namespaces": items}), omitted))
    }

    pub async fn pods(&self, namespace: Option<&str>) -> Result<Value, ToolError> {
        let path = match namespace {
            Some(ns) => format!("/api/v1/namespaces/{ns}/pods"),
            None => "/api/v1/pods".into(),
        };
        let (items, omitted) = self.list(&path, &[], pod_summary).await?;
        Ok(with_omitted(json!({"pods": items}), omitted))
    }

    pub async fn workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Value, ToolError> {
        let mut out = Vec::new();
        let mut omitted = 0;
        for resource in ["deployments", "statefulsets", "daemonsets"] {
            if kind.is_some_and(|k| k != resource) {
                continue;
            }
            let path = match namespace {
                Some(ns) => format!("/apis/apps/v1/namespaces/{ns}/{resource}"),
                None => format!("/apis/apps/v1/{resource}"),
            };
            let (items, more) = self
                .list(&path, &[], |w| workload_summary(resource, w))
                .await?;
            out.extend(items);
            omitted += more;
        }
        let not_ready = out.iter().filter(|w| w["healthy"] == false).count();
        Ok(with_omitted(
            json!({"workloads": out, "notReady": not_ready}),
            omitted,
        ))
    }

    pub async fn events(
        &self,
        namespace: Option<&str>,
        all_types: bool,
    ) -> Result<Value, ToolError> {
        let path = match namespace {
            Some(ns) => format!("/api/v1/namespaces/{ns}/events"),
            None => "/api/v1/events".into(),
        };
        let query: Vec<(&str, String)> = if all_types {
            Vec::new()
        } else {
            vec![("fieldSelector", "type=Warning".into())]
        };
        let list = self
            .get_json(&path, &[query, vec![("limit", "500".into())]].concat())
            .await?;
        let mut items = list["items"].as_array().cloned().unwrap_or_default();
        // Newest first.
        let when = |e: &Value| {
            e["lastTimestamp"]
                .as_str()
                .or(e["eventTime"].as_str())
                .or(e["metadata"]["creationTimestamp"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        items.sort_by_key(|e| std::cmp::Reverse(when(e)));
        let (events, omitted) = fit(items.iter().map(|e| {
            json!({
                "namespace": e["metadata"]["namespace"],
                "object": format!("{}/{}",
                    e["involvedObject"]["kind"].as_str().unwrap_or("?"),
                    e["involvedObject"]["name"].as_str().unwrap_or("?")),
                "type": e["type"],
                "reason": e["reason"],
                "message": cut(e["message"].as_str().unwrap_or_default(), 400),
                "count": e["count"],
                "last": when(e),
            })
        }));
        Ok(with_omitted(json!({"events": events}), omitted))
    }

    pub async fn pod_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        tail_lines: u64,
        previous: bool,
    ) -> Result<Value, ToolError> {
        let mut query = vec![
            ("tailLines", tail_lines.to_string()),
            ("limitBytes", (4 * MAX_LOG).to_string()),
        ];
        if let Some(c) = container {
            query.push(("container", c.to_owned()));
        }
        if previous {
            query.push(("previous", "true".into()));
        }
        let text = self
            .get(
                &format!("/api/v1/namespaces/{namespace}/pods/{pod}/log"),
                &query,
            )
            .await?;
        let (log, truncated) = tail(&text, MAX_LOG);
        let mut out = json!({
            "namespace": namespace,
            "pod": pod,
            "container": container,
            "previous": previous,
            "lines": log.lines().count(),
            "log": log,
        });
        if truncated {
            out["truncated"] = json!("only the log's last characters are shown");
        }
        Ok(out)
    }

    pub async fn nodes(&self) -> Result<Value, ToolError> {
        let (items, omitted) = self
            .list("/api/v1/nodes", &[], |n| {
                let conditions = n["status"]["conditions"].as_array().cloned().unwrap_or_default();
                let ready = conditions
                    .iter()
                    .find(|c| c["type"] == "Ready")
                    .map(|c| c["status"].clone())
                    .unwrap_or(Value::Null);
                // Conditions other than Ready are problems when true.
                let problems: Vec<Value> = conditions
                    .iter()
                    .filter(|c| c["type"] != "Ready" && c["status"] == "True")
                    .map(|c| json!({"type": c["type"], "reason": c["reason"], "message": cut(c["message"].as_str().unwrap_or_default(), 200)}))
                    .collect();
                json!({
                    "name": n["metadata"]["name"],
                    "ready": ready,
                    "problems": problems,
                    "unschedulable": n["spec"]["unschedulable"].as_bool().unwrap_or(false),
                    "kubelet": n["status"]["nodeInfo"]["kubeletVersion"],
                    "allocatable": {"cpu": n["status"]["allocatable"]["cpu"], "memory": n["status"]["allocatable"]["memory"]},
                })
            })
            .await?;
        Ok(with_omitted(json!({"nodes": items}), omitted))
    }
}

fn pod_summary(p: &Value) -> Value {
    let statuses = p["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: u64 = statuses
        .iter()
        .map(|c| c["restartCount"].as_u64().unwrap_or(0))
        .sum();
    let containers: Vec<Value> = statuses
        .iter()
        .map(|c| {
            json!({
                "name": c["name"],
                "ready": c["ready"],
                "restarts": c["restartCount"],
                "state": state(&c["state"]),
                "lastState": state(&c["lastState"]),
            })
        })
        .collect();
    json!({
        "namespace": p["metadata"]["namespace"],
        "name": p["metadata"]["name"],
        "phase": p["status"]["phase"],
        "reason": p["status"]["reason"],
        "ready": format!("{ready}/{}", statuses.len()),
        "restarts": restarts,
        "node": p["spec"]["nodeName"],
        "started": p["status"]["startTime"],
        "containers": containers,
    })
}

/// A container state (`{"waiting": {"reason": ...}}`) as one object with
/// its kind; null when empty.
fn state(s: &Value) -> Value {
    let Some((kind, detail)) = s.as_object().and_then(|o| o.iter().next()) else {
        return Value::Null;
    };
    json!({
        "state": kind,
        "reason": detail["reason"],
        "exitCode": detail["exitCode"],
        "message": cut(detail["message"].as_str().unwrap_or_default(), 300),
        "at": detail["finishedAt"].as_str().or(detail["startedAt"].as_str()),
    })
}

fn workload_summary(resource: &str, w: &Value) -> Value {
    let s = &w["status"];
    let (desired, ready) = if resource == "daemonsets" {
        (
            s["desiredNumberScheduled"].as_u64().unwrap_or(0),
            s["numberReady"].as_u64().unwrap_or(0),
        )
    } else {
        (
            w["spec"]["replicas"].as_u64().unwrap_or(1),
            s["readyReplicas"].as_u64().unwrap_or(0),
        )
    };
    json!({
        "kind": resource.trim_end_matches('s'),
        "namespace": w["metadata"]["namespace"],
        "name": w["metadata"]["name"],
        "desired": desired,
        "ready": ready,
        "healthy": ready >= desired,
    })
}

/// The last `max` characters of `s`, from a line start when there is one.
fn tail(s: &str, max: usize) -> (String, bool) {
    let chars = s.chars().count();
    if chars <= max {
        return (s.to_owned(), false);
    }
    let start = s.char_indices().nth(chars - max).map_or(0, |(i, _)| i);
    let rest = &s[start..];
    let rest = rest.find('\n').map_or(rest, |i| &rest[i + 1..]);
    (rest.to_owned(), true)
}

/// An error answer, named for the operator: who refused what, and
/// Kubernetes' own message (a `Status`), never the token.
fn status_error(
    service: &Service,
    status: reqwest::StatusCode,
    path: &str,
    body: &[u8],
) -> ToolError {
    let message = service::error_message(body);
    let why = match status.as_u16() {
        401 => "the token is not accepted (missing, expired or revoked)",
        403 => "the token may not read this (grant get/list on it)",
        404 => "not found",
        _ => "the request failed",
    };
    service.refused(status, path, why, &message)
}

/// A namespace's or pod's name (RFC 1123): the schemas admit nothing that
/// could change the path.
const NAME: &str = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";

pub fn description(tool: ToolName) -> &'static str {
    match tool {
        ToolName::K8sNamespaces => "Kubernetes namespaces and their phase.",
        ToolName::K8sPods => "Kubernetes pods of one namespace (or all): phase, ready containers, restarts, each container's state and last state (e.g. CrashLoopBackOff, OOMKilled, exit code).",
        ToolName::K8sWorkloads => "Kubernetes deployments, statefulsets and daemonsets: ready vs desired replicas.",
        ToolName::K8sEvents => "Recent Kubernetes events, newest first: warnings only unless all_types.",
        ToolName::K8sPodLogs => "The last lines of a Kubernetes pod's log (optionally of one container, or of its previous run).",
        ToolName::K8sNodes => "Kubernetes nodes: ready, pressure conditions (memory, disk, PID), schedulable, kubelet version.",
        _ => "",
    }
}

pub fn parameters(tool: ToolName) -> Value {
    let namespace = json!({"type": "string", "pattern": NAME, "maxLength": 253, "description": "Only this namespace; all namespaces when absent"});
    match tool {
        ToolName::K8sPods => json!({
            "type": "object",
            "properties": {"namespace": namespace},
            "additionalProperties": false
        }),
        ToolName::K8sWorkloads => json!({
            "type": "object",
            "properties": {
                "namespace": namespace,
                "kind": {"type": "string", "enum": ["deployments", "statefulsets", "daemonsets"], "description": "Only this kind"}
            },
            "additionalProperties": false
        }),
        ToolName::K8sEvents => json!({
            "type": "object",
            "properties": {
                "namespace": namespace,
                "all_types": {"type": "boolean", "description": "Normal events too (default: warnings only)"}
            },
            "additionalProperties": false
        }),
        ToolName::K8sPodLogs => json!({
            "type": "object",
            "properties": {
                "namespace": {"type": "string", "pattern": NAME, "maxLength": 253},
                "pod": {"type": "string", "pattern": NAME, "maxLength": 253},
                "container": {"type": "string", "pattern": NAME, "maxLength": 253, "description": "Needed when the pod has several"},
                "tail_lines": {"type": "integer", "minimum": 1, "maximum": 500, "description": "Lines from the end (default 100)"},
                "previous": {"type": "boolean", "description": "The previous run's log (after a crash)"}
            },
            "required": ["namespace", "pod"],
            "additionalProperties": false
        }),
        _ => json!({"type": "object", "properties": {}, "additionalProperties": false}),
    }
}

impl Kubernetes {
    /// Runs one of the Kubernetes tools with checked arguments.
    pub async fn call(&self, tool: ToolName, a: &Value) -> Result<Value, ToolError> {
        let namespace = a["namespace"].as_str();
        match tool {
            ToolName::K8sNamespaces => self.namespaces().await,
            ToolName::K8sPods => self.pods(namespace).await,
            ToolName::K8sWorkloads => self.workloads(namespace, a["kind"].as_str()).await,
            ToolName::K8sEvents => {
                self.events(namespace, a["all_types"].as_bool().unwrap_or(false))
                    .await
            }
            ToolName::K8sPodLogs => {
                self.pod_logs(
                    namespace.unwrap_or_default(),
                    a["pod"].as_str().unwrap_or_default(),
                    a["container"].as_str(),
                    a["tail_lines"].as_u64().unwrap_or(100),
                    a["previous"].as_bool().unwrap_or(false),
                )
                .await
            }
            ToolName::K8sNodes => self.nodes().await,
            other => Err(ToolError::Unknown(other.as_str().to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_read_only_set_is_allowed_and_secrets_never() {
        for path in [
            "/api/v1/namespaces",
            "/api/v1/pods",
            "/api/v1/namespaces/default/pods",
            "/api/v1/namespaces/secrets/pods",
            "/api/v1/namespaces/default/pods/secrets/log",
            "/api/v1/namespaces/kube-system/events",
            "/api/v1/nodes",
            "/apis/apps/v1/namespaces/web/deployments",
            "/apis/apps/v1/daemonsets",
        ] {
            assert!(allowed(path), "{path}");
        }
        for path in [
            "/api/v1/secrets",
            "/api/v1/namespaces/default/secrets",
            "/api/v1/namespaces/default/secrets/db",
            "/api/v1/namespaces/default/Secrets",
            "/api/v1/namespaces/default/configmaps",
            "/api/v1/namespaces/default/pods/web/exec",
            "/api/v1/namespaces/../secrets/pods",
            "/api/v1/namespaces/default/pods/../../secrets/x/log",
            "/api/v1/namespaces/%2e%2e/pods",
            "/apis/apps/v1/namespaces/web/deployments/x/scale",
            "/api/v1/namespaces/default",
            "/",
        ] {
            assert!(!allowed(path), "{path}");
        }
    }

    #[test]
    fn a_log_keeps_its_last_whole_lines() {
        let log: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        let (kept, cut) = tail(&log, 100);
        assert!(cut);
        assert!(kept.len() <= 100);
        assert!(kept.starts_with("line "), "{kept}");
        assert!(kept.ends_with("line 4999\n"));
    }
}
