//! Home Assistant, through its REST API with a long-lived token (and, for
//! installations that require it, a client certificate, a CA and a server
//! name). `entities` reads; `light` is the one call in this daemon that
//! changes anything, and it exists only when the operator enabled actions
//! and named the entities: the tool's schema admits no other entity, and
//! the call is checked against the list again here.

use std::time::Duration;

use serde_json::{json, Value};

use super::ToolError;
use crate::config::HomeAssistantConfig;
use hwc_ai_runtime::{ConfigError, Secret};

pub struct HomeAssistant {
    base: url::Url,
    token: Secret,
    client: reqwest::Client,
    /// Entities actions may switch; empty when actions are off.
    pub actions: Vec<String>,
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl HomeAssistant {
    /// Reads the token and the TLS files; resolves the server name.
    pub async fn new(config: &HomeAssistantConfig) -> Result<Self, ConfigError> {
        let token = config.token.read("homeAssistant.token")?;
        let mut base = config.url.clone();
        let mut builder = hwc_ai_runtime::client::builder("assistant").timeout(TIMEOUT);
        if let Some(tls) = &config.tls {
            builder = tls.apply(builder, "homeAssistant.tls")?;
            if let Some(name) = &tls.server_name {
                // Connect to the configured address, but verify (and send
                // SNI for) `serverName`: the URL's host becomes the name,
                // resolved to where the URL pointed.
                let host = base.host_str().unwrap_or_default().to_owned();
                let port = base.port_or_known_default().unwrap_or(443);
                let addr = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        ConfigError::at("homeAssistant.url", format!("cannot resolve `{host}`"))
                    })?;
                builder = builder.resolve(name, addr);
                base.set_host(Some(name))
                    .map_err(|e| ConfigError::at("homeAssistant.tls.serverName", e.to_string()))?;
            }
        }
        let client = hwc_ai_runtime::client::build(builder, "homeAssistant")?;
        let actions = if config.actions.enable {
            config.actions.entities.clone()
        } else {
            Vec::new()
        };
        Ok(Self {
            base,
            token,
            client,
            actions,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// Entities and their states, optionally of one domain (`light`).
    pub async fn entities(&self, domain: Option<&str>) -> Result<Value, ToolError> {
        let response = self
            .client
            .get(self.url("/api/states"))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!(
                "Home Assistant answered {status}"
            )));
        }
        let states: Value = response.json().await.map_err(unreachable)?;
        let entities: Vec<Value> = states
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| {
                domain.is_none_or(|d| {
                    e["entity_id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with(&format!("{d}.")))
                })
            })
            .take(200)
            .map(|e| {
                json!({
                    "entity": e["entity_id"],
                    "name": e["attributes"]["friendly_name"],
                    "state": e["state"],
                    "changed": e["last_changed"],
                })
            })
            .collect();
        Ok(json!({"entities": entities}))
    }

    /// Switches an allowed light on or off.
    pub async fn light(&self, entity: &str, on: bool) -> Result<Value, ToolError> {
        if !self.actions.iter().any(|a| a == entity) {
            return Err(ToolError::InvalidArguments(format!(
                "`{entity}` is not among the entities actions may switch"
            )));
        }
        let service = if on { "turn_on" } else { "turn_off" };
        let response = self
            .client
            .post(self.url(&format!("/api/services/light/{service}")))
            .bearer_auth(self.token.expose())
            .json(&json!({"entity_id": entity}))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!(
                "Home Assistant answered {status}"
            )));
        }
        Ok(json!({"entity": entity, "done": service}))
    }
}

fn unreachable(e: reqwest::Error) -> ToolError {
    ToolError::Unavailable(format!("cannot reach Home Assistant: {}", e.without_url()))
}
