//! Vault, metadata only: seal status and health, the secret engines
//! mounted, the ACL policies' names, and the key names under a KV v2
//! path. Never a value: every request goes through [`Vault::get`], which
//! sends `GET` (and `LIST` as `GET ?list=true`) only to the paths
//! [`allowed`] admits. A KV path is read only under `<mount>/metadata/`
//! and only as a listing; `<mount>/data/`, a KV v1 read, `sys/raw`,
//! `cubbyhole`, `auth` and everything else are refused in code.

use serde_json::{json, Value};

use super::service::{self, cut, fit, with_omitted, Service};
use super::{ToolError, ToolName};
use crate::config::VaultConfig;
use hwc_ai_runtime::{ConfigError, Secret};

const MAX_BODY: usize = 4 << 20;
/// A mount's name.
const MOUNT: &str = "^[A-Za-z0-9_-]{1,100}$";
/// A folder under a KV mount: names, each followed by `/`; empty for its
/// top.
const FOLDER: &str = "^([A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}/){0,20}$";

pub struct Vault {
    service: Service,
    token: Secret,
}

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Whether `GET path` (with `?list=true` when `list`) reads metadata only.
pub fn allowed(path: &str, list: bool) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "sys", "health" | "seal-status" | "mounts"] => !list,
        ["v1", "sys", "policies", "acl"] => list,
        // A KV v2 folder's key names; the trailing `/` leaves an empty
        // last segment.
        ["v1", mount, "metadata", rest @ ..] => {
            list && *mount != "sys"
                && *mount != "cubbyhole"
                && *mount != "auth"
                && is_segment(mount)
                && rest.split_last().is_some_and(|(last, folders)| {
                    last.is_empty() && folders.iter().all(|s| is_segment(s))
                })
        }
        _ => false,
    }
}

pub fn description(tool: ToolName) -> &'static str {
    match tool {
        ToolName::VaultStatus => "Vault's health and seal status: initialized, sealed, standby, version, unseal progress.",
        ToolName::VaultMounts => "Vault's secret engines: path, type, description, KV version.",
        ToolName::VaultPolicies => "The names of Vault's ACL policies.",
        ToolName::VaultKvKeys => "The key names under a folder of a KV v2 secret engine (never their values).",
        _ => "",
    }
}

pub fn parameters(tool: ToolName) -> Value {
    match tool {
        ToolName::VaultKvKeys => json!({
            "type": "object",
            "properties": {
                "mount": {"type": "string", "pattern": MOUNT, "description": "The KV v2 engine's mount, e.g. secret"},
                "folder": {"type": "string", "pattern": FOLDER, "maxLength": 2000, "description": "A folder under it ending in /, e.g. apps/web/; its top when absent"}
            },
            "required": ["mount"],
            "additionalProperties": false
        }),
        _ => json!({"type": "object", "properties": {}, "additionalProperties": false}),
    }
}

impl Vault {
    pub fn new(config: &VaultConfig) -> Result<Self, ConfigError> {
        let token = config.token.read("vault.token")?;
        Ok(Self {
            service: Service {
                name: "Vault",
                base: config.url.clone(),
                client: service::client(config.ca_file.clone(), "vault")?,
                timeout: config.timeout,
                max_body: MAX_BODY,
            },
            token,
        })
    }

    pub async fn call(&self, tool: ToolName, a: &Value) -> Result<Value, ToolError> {
        match tool {
            ToolName::VaultStatus => self.status().await,
            ToolName::VaultMounts => self.mounts().await,
            ToolName::VaultPolicies => {
                let keys = self.list("/v1/sys/policies/acl").await?;
                Ok(json!({"policies": keys}))
            }
            ToolName::VaultKvKeys => {
                let mount = a["mount"].as_str().unwrap_or_default();
                let folder = a["folder"].as_str().unwrap_or_default();
                let keys = self.list(&format!("/v1/{mount}/metadata/{folder}")).await?;
                let (keys, omitted) = fit(keys.into_iter());
                Ok(with_omitted(
                    json!({"mount": mount, "folder": folder, "keys": keys}),
                    omitted,
                ))
            }
            other => Err(ToolError::Unknown(other.as_str().to_owned())),
        }
    }

    /// `GET path` (`?list=true` when `list`) for an [`allowed`] path: the
    /// status and the JSON body. `ok` are the statuses that are answers
    /// (`sys/health` says standby or sealed with its status code).
    async fn get(&self, path: &str, list: bool, ok: &[u16]) -> Result<(u16, Value), ToolError> {
        if !allowed(path, list) {
            return Err(ToolError::Failed(format!(
                "`{path}` is outside the Vault tools' metadata-only set (no secret is ever read)"
            )));
        }
        let mut url = self.service.url(path);
        if list {
            url.set_query(Some("list=true"));
        }
        let request = self
            .service
            .client
            .get(url)
            .header("X-Vault-Token", self.token.expose());
        let (status, body) = self.service.fetch(request, path).await?;
        if !status.is_success() && !ok.contains(&status.as_u16()) {
            return Err(status_error(&self.service, status, path, &body));
        }
        Ok((status.as_u16(), self.service.json(path, &body)?))
    }

    /// A LIST's `data.keys` (names only).
    async fn list(&self, path: &str) -> Result<Vec<Value>, ToolError> {
        let (_, body) = self.get(path, true, &[]).await?;
        Ok(body["data"]["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(|k| json!(cut(k, 200))))
            .collect())
    }

    async fn status(&self) -> Result<Value, ToolError> {
        // Standby (429, 473), DR secondary (472), not initialized (501)
        // and sealed (503) are answers here, not errors.
        let (code, health) = self
            .get("/v1/sys/health", false, &[429, 472, 473, 501, 503])
            .await?;
        let (_, seal) = self.get("/v1/sys/seal-status", false, &[]).await?;
        Ok(json!({
            "initialized": health["initialized"],
            "sealed": seal["sealed"],
            "standby": health["standby"],
            "performanceStandby": health["performance_standby"],
            "healthStatus": code,
            "version": health["version"],
            "clusterName": health["cluster_name"],
            "unsealProgress": format!("{}/{}", seal["progress"], seal["t"]),
            "storage": seal["storage_type"],
        }))
    }

    async fn mounts(&self) -> Result<Value, ToolError> {
        let (_, body) = self.get("/v1/sys/mounts", false, &[]).await?;
        // Newer Vaults answer under `data`, older ones at the top level
        // (next to request fields).
        let mounts = body["data"]
            .as_object()
            .cloned()
            .unwrap_or_else(|| body.as_object().cloned().unwrap_or_default());
        let (list, omitted) =
            fit(mounts
                .iter()
                .filter(|(_, m)| m["type"].is_string())
                .map(|(path, m)| {
                    json!({
                        "path": path,
                        "type": m["type"],
                        "description": cut(m["description"].as_str().unwrap_or_default(), 200),
                        "version": m["options"]["version"],
                    })
                }));
        Ok(with_omitted(json!({"mounts": list}), omitted))
    }
}

fn status_error(
    service: &Service,
    status: reqwest::StatusCode,
    path: &str,
    body: &[u8],
) -> ToolError {
    let errors = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v["errors"].as_array().map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .map(|m| cut(m, 200))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_default();
    let why = match status.as_u16() {
        400 => "not a path Vault lists (is it a KV v2 mount?)",
        401 | 403 => {
            "the token is not accepted or may not list this (its policy needs `list` on the path)"
        }
        404 => "nothing there (no keys under this folder, or no such mount)",
        _ => "the request failed",
    };
    service.refused(status, path, why, &errors)
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn metadata_only() {
        assert!(allowed("/v1/sys/health", false));
        assert!(allowed("/v1/sys/seal-status", false));
        assert!(allowed("/v1/sys/mounts", false));
        assert!(allowed("/v1/sys/policies/acl", true));
        assert!(allowed("/v1/secret/metadata/", true));
        assert!(allowed("/v1/secret/metadata/apps/web/", true));
        for (path, list) in [
            ("/v1/secret/metadata/apps/web", true),
            ("/v1/secret/metadata/apps/", false),
            ("/v1/secret/data/apps/web", false),
            ("/v1/secret/data/apps/", true),
            ("/v1/secret/apps/web", false),
            ("/v1/secret/metadata/../data/db/", true),
            ("/v1/sys/raw/core", false),
            ("/v1/sys/policies/acl/admin", false),
            ("/v1/cubbyhole/metadata/", true),
            ("/v1/sys/metadata/", true),
            ("/v1/auth/token/lookup-self", false),
            ("/v1/sys/mounts", true),
        ] {
            assert!(!allowed(path, list), "{path} {list}");
        }
    }
}
