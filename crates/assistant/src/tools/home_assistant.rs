//! Home Assistant, through its REST API with a long-lived token (and, for
//! installations that require it, a client certificate, a CA and a server
//! name). `states`, `entities` and `area_entities` read; `switch` is the
//! one call in this daemon that changes anything, and it exists only when
//! the operator enabled actions and named the entities: the tool's schema
//! admits no other entity, and the call is checked against the list again
//! here. A light's brightness and colour temperature are checked against
//! what the light says it supports before anything is sent.

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

    /// Every entity's state object, as `GET /api/states` answers it
    /// (`entity_id`, `state`, `attributes`, `last_changed`, ...).
    pub async fn states(&self) -> Result<Vec<Value>, ToolError> {
        let started = std::time::Instant::now();
        let response = self
            .client
            .get(self.url("/api/states"))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        tracing::debug!(
            call = "GET /api/states",
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "home assistant"
        );
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!(
                "Home Assistant answered {status}"
            )));
        }
        let states: Value = response.json().await.map_err(unreachable)?;
        match states {
            Value::Array(states) => Ok(states),
            _ => Err(ToolError::Unavailable(
                "Home Assistant's /api/states is not a list".into(),
            )),
        }
    }

    /// The entity ids in `area` (its name or id), through
    /// `POST /api/template` and Home Assistant's `area_entities()`: the
    /// REST API has no area listing of its own. The area goes in as a
    /// template variable, never into the template's text. Home Assistant
    /// renders templates for administrators' tokens only.
    pub async fn area_entities(&self, area: &str) -> Result<Vec<String>, ToolError> {
        let started = std::time::Instant::now();
        let response = self
            .client
            .post(self.url("/api/template"))
            .bearer_auth(self.token.expose())
            .json(&json!({"template": AREA_TEMPLATE, "variables": {"area": area}}))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        tracing::debug!(
            call = "POST /api/template",
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "home assistant"
        );
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(ToolError::Failed(format!(
                "Home Assistant answered {status} to the area lookup: it renders templates \
                 (how areas are read) for an administrator's token only"
            )));
        }
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!(
                "Home Assistant answered {status}"
            )));
        }
        let text = response.text().await.map_err(unreachable)?;
        serde_json::from_str::<Vec<String>>(text.trim()).map_err(|_| {
            ToolError::Unavailable("Home Assistant's area lookup is not a list of entities".into())
        })
    }

    /// Entities and their states, optionally of one domain (`light`)
    /// and one area.
    pub async fn entities(
        &self,
        domain: Option<&str>,
        area: Option<&str>,
    ) -> Result<Value, ToolError> {
        let in_area = match area {
            Some(area) => Some(self.area_entities(area).await?),
            None => None,
        };
        let states = self.states().await?;
        let entities: Vec<Value> = states
            .iter()
            .filter(|e| {
                let id = e["entity_id"].as_str().unwrap_or_default();
                domain.is_none_or(|d| id.starts_with(&format!("{d}.")))
                    && in_area.as_ref().is_none_or(|a| a.iter().any(|x| x == id))
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

    /// Switches an allowed entity on or off through its domain's
    /// `turn_on` / `turn_off`; a light's `settings` go with `turn_on`
    /// (checked by [`Settings::check`] against the entity first).
    pub async fn switch(
        &self,
        entity: &str,
        on: bool,
        settings: &Settings,
    ) -> Result<Value, ToolError> {
        if !self.actions.iter().any(|a| a == entity) {
            return Err(ToolError::InvalidArguments(format!(
                "`{entity}` is not among the entities actions may switch"
            )));
        }
        let domain = entity.split('.').next().unwrap_or_default();
        if !settings.is_empty() {
            if !on || domain != "light" {
                return Err(ToolError::InvalidArguments(
                    "brightness and colour temperature are for turning a light on".into(),
                ));
            }
            let state = self
                .states()
                .await?
                .into_iter()
                .find(|s| s["entity_id"] == entity)
                .ok_or_else(|| {
                    ToolError::Failed(format!("Home Assistant has no entity `{entity}`"))
                })?;
            settings
                .check(&state)
                .map_err(ToolError::InvalidArguments)?;
        }
        let service = if on { "turn_on" } else { "turn_off" };
        let mut body = json!({"entity_id": entity});
        if let Some(pct) = settings.brightness_pct {
            body["brightness_pct"] = json!(pct);
        }
        if let Some(kelvin) = settings.color_temp_kelvin {
            body["color_temp_kelvin"] = json!(kelvin);
        }
        let started = std::time::Instant::now();
        let response = self
            .client
            .post(self.url(&format!("/api/services/{domain}/{service}")))
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        tracing::debug!(call = %format!("POST /api/services/{domain}/{service}"), entity,
            status = status.as_u16(), duration_ms = started.elapsed().as_millis() as u64,
            "home assistant");
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!(
                "Home Assistant answered {status}"
            )));
        }
        let mut done = json!({"entity": entity, "done": service});
        if !settings.is_empty() {
            done["settings"] = serde_json::to_value(settings).unwrap_or_default();
        }
        Ok(done)
    }
}

/// `area_entities()` of the `area` variable, as JSON.
const AREA_TEMPLATE: &str = "{{ area_entities(area) | tojson }}";

/// The domains whose entities actions may switch: each has `turn_on` and
/// `turn_off` services that take only `entity_id`.
pub const SWITCHABLE: &[&str] = &["light", "switch", "fan", "input_boolean"];

/// A light's settings for `turn_on`, in Home Assistant's own units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Settings {
    /// 0–100 (`brightness_pct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brightness_pct: Option<u8>,
    /// Kelvin (`color_temp_kelvin`), within the light's own range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_temp_kelvin: Option<u32>,
}

/// Colour temperatures any light can have, for a light whose state does
/// not say its own range: candlelight to blue sky.
pub const KELVIN_RANGE: (u32, u32) = (1000, 10000);

impl Settings {
    pub fn is_empty(&self) -> bool {
        self.brightness_pct.is_none() && self.color_temp_kelvin.is_none()
    }

    /// Reads `brightness_pct` and `color_temp_kelvin` from `args`; a value
    /// of the wrong kind or out of range is an error that names it.
    pub fn parse(args: &Value) -> Result<Self, String> {
        let mut settings = Settings::default();
        match &args["brightness_pct"] {
            Value::Null => {}
            v => {
                let pct = v
                    .as_f64()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| format!("brightness must be 0 to 100 percent, not {v}"))?;
                settings.brightness_pct = Some(pct.round() as u8);
            }
        }
        match &args["color_temp_kelvin"] {
            Value::Null => {}
            v => {
                let (low, high) = KELVIN_RANGE;
                let kelvin = v
                    .as_f64()
                    .filter(|k| (f64::from(low)..=f64::from(high)).contains(k))
                    .ok_or_else(|| {
                        format!("colour temperature must be {low} K to {high} K, not {v}")
                    })?;
                settings.color_temp_kelvin = Some(kelvin.round() as u32);
            }
        }
        Ok(settings)
    }

    /// Whether the light whose state object is `state` can take these
    /// settings: brightness needs a colour mode other than `onoff`, a
    /// colour temperature needs `color_temp` and must lie within the
    /// light's `min_color_temp_kelvin`..`max_color_temp_kelvin`.
    pub fn check(&self, state: &Value) -> Result<(), String> {
        let attributes = &state["attributes"];
        let name = attributes["friendly_name"]
            .as_str()
            .or(state["entity_id"].as_str())
            .unwrap_or("the light");
        let modes: Vec<&str> = attributes["supported_color_modes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if self.brightness_pct.is_some() && modes.iter().all(|m| *m == "onoff" || *m == "unknown") {
            return Err(format!("{name} cannot be dimmed (it is on/off only)"));
        }
        if let Some(kelvin) = self.color_temp_kelvin {
            if !modes.contains(&"color_temp") {
                return Err(format!("{name} has no colour temperature"));
            }
            let low = attributes["min_color_temp_kelvin"].as_u64();
            let high = attributes["max_color_temp_kelvin"].as_u64();
            if let (Some(low), Some(high)) = (low, high) {
                if !(low..=high).contains(&u64::from(kelvin)) {
                    return Err(format!(
                        "{name}'s colour temperature goes from {low} K to {high} K, not {kelvin} K"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn unreachable(e: reqwest::Error) -> ToolError {
    ToolError::Unavailable(format!("cannot reach Home Assistant: {}", e.without_url()))
}
