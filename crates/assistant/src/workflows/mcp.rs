//! MCP tools for workflows, through hwc-ai-mcp: a `prompt` workflow's
//! `mcpTools` are called through the gateway's OpenAPI bridge
//! (`POST /openapi/{server}/{tool}`, the arguments as the body), with the
//! assistant's key for the gateway, before the model is asked; their
//! results go before the prompt, as the assistant's own tools' do.
//!
//! The operator declares each call and its arguments: a scheduled job
//! reads the same data every run, and a small local model need not be
//! good at calling tools. The gateway's policy still decides which tools
//! exist at all.

use std::time::Duration;

use hwc_ai_runtime::{ConfigError, Secret, SecretSource};
use serde::Deserialize;
use serde_json::Value;

/// `mcp`: where the MCP gateway is, for workflows' `mcpTools`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayConfig {
    /// hwc-ai-mcp's base URL.
    #[serde(default = "default_url")]
    pub url: String,
    /// A client key of the gateway (`clients.keys`), sent as a bearer
    /// token; none when the gateway admits loopback without one.
    #[serde(default)]
    pub api_key: Option<SecretSource>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            url: default_url(),
            api_key: None,
        }
    }
}

/// The gateway's own default address (docs/design.md, "Default ports").
fn default_url() -> String {
    hwc_ai_runtime::daemons::MCP.url.into()
}

impl GatewayConfig {
    pub fn check(&self, at: &str) -> Result<(), ConfigError> {
        let ok = url::Url::parse(&self.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(ConfigError::at(
                format!("{at}.url"),
                format!("`{}` is not an http(s) URL", self.url),
            ));
        }
        if let Some(key) = &self.api_key {
            key.check(&format!("{at}.apiKey"))?;
        }
        Ok(())
    }
}

/// One declared call: `{"server": "time", "tool": "get_current_time",
/// "arguments": {"timezone": "UTC"}}`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpCall {
    /// The server's name in the gateway (`servers[].name`).
    pub server: String,
    pub tool: String,
    /// The tool's arguments, a JSON object.
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl McpCall {
    /// How the audit log and the prompt name it: `mcp:server/tool`.
    pub fn label(&self) -> String {
        format!("mcp:{}/{}", self.server, self.tool)
    }

    pub fn check(&self, at: &str) -> Result<(), ConfigError> {
        // They become a URL path: no `/`, `..` or spaces.
        let name_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        for (field, value) in [("server", &self.server), ("tool", &self.tool)] {
            if !name_ok(value) {
                return Err(ConfigError::at(
                    format!("{at}.{field}"),
                    format!("`{value}` is not a name (letters, digits, `-`, `_`, `.`)"),
                ));
            }
        }
        if !self.arguments.is_object() {
            return Err(ConfigError::at(
                format!("{at}.arguments"),
                "must be a JSON object of the tool's arguments",
            ));
        }
        Ok(())
    }
}

/// The gateway as workflows call it.
pub struct Gateway {
    url: String,
    key: Option<Secret>,
}

impl Gateway {
    /// The key is read here, at start, when a workflow calls the gateway
    /// (`used`): a missing file stops the start, naming `mcp.apiKey`.
    pub fn load(config: &GatewayConfig, used: bool) -> Result<Self, ConfigError> {
        let key = match &config.api_key {
            Some(source) if used => Some(source.read("mcp.apiKey")?),
            _ => None,
        };
        Ok(Self {
            url: config.url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// The tool's result as the gateway's bridge gives it (its structured
    /// content, or its content blocks), or why there is none.
    pub async fn call(
        &self,
        http: &reqwest::Client,
        call: &McpCall,
        timeout: Duration,
    ) -> Result<Value, String> {
        let url = format!("{}/openapi/{}/{}", self.url, call.server, call.tool);
        let mut request = http.post(url).json(&call.arguments).timeout(timeout);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                "the MCP gateway did not answer in time".to_owned()
            } else {
                format!("cannot reach the MCP gateway: {}", e.without_url())
            }
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("the MCP gateway's answer: {}", e.without_url()))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"]
            .as_str()
            .or(body["detail"].as_str())
            .or(body.as_str())
            .unwrap_or("no message");
        Err(format!("the MCP gateway answered {status}: {message}"))
    }
}
