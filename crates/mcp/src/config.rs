//! The config documents of the gateway and of the stdio wrapper (see
//! docs/mcp.md).
//!
//! A server is one flat struct rather than a serde-tagged enum, so an error
//! inside one still names its full path (`servers[1].url`); which of
//! `command`, `socket` and `url` is set decides its kind, checked here.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use hwc_ai_runtime::auth::ClientsConfig;
use hwc_ai_runtime::config::{check_listen, check_name, check_origins, check_positive};
use hwc_ai_runtime::{Common, ConfigError, LogConfig, SecretSource, Validate};
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub clients: ClientsConfig,
    /// Browser origins that may call the gateway: they get CORS headers,
    /// any other `Origin` is refused (403).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// `Host` values accepted on `/mcp/{name}` (a DNS-rebinding guard). An
    /// empty list accepts any.
    #[serde(default = "default_allowed_hosts")]
    pub allowed_hosts: Vec<String>,
    #[serde(default = "default_check_interval", with = "humantime_serde")]
    pub check_interval: Duration,
    /// Bound on one check: connecting, `initialize`, every `tools/list` page.
    #[serde(default = "default_check_timeout", with = "humantime_serde")]
    pub check_timeout: Duration,
    /// Bound on one tool call through the gateway.
    #[serde(default = "default_call_timeout", with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Largest request body accepted on `/openapi`; larger is 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default)]
    pub servers: Vec<ServerConfig>,
}

fn default_listen() -> String {
    hwc_ai_runtime::daemons::MCP.listen.into()
}

fn default_allowed_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec()
}

/// A tool list rarely changes; a dead server is noticed within the
/// interval, and a call to it fails at once anyway.
fn default_check_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_check_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Tools fetch pages and query devices; a minute covers them without
/// letting a hung one hold a client forever.
fn default_call_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_max_body_bytes() -> usize {
    1 << 20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    pub name: String,
    /// A stdio server the gateway runs as its child (`hwc-ai up`,
    /// development). On NixOS each runs in its own unit behind `socket`.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables whose values are secrets, read from files.
    #[serde(default)]
    pub secret_env: BTreeMap<String, SecretSource>,
    /// The unix socket of a `hwc-ai-mcp wrap` serving a stdio server.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// A remote server.
    #[serde(default)]
    pub url: Option<Url>,
    #[serde(default)]
    pub transport: RemoteTransport,
    /// Extra request headers for a remote server.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Sent as `Authorization: Bearer` to a remote server.
    #[serde(default)]
    pub bearer_token: Option<SecretSource>,
    #[serde(default)]
    pub tools: ToolsConfig,
    /// Hide tools that do not say they leave their environment alone.
    #[serde(default)]
    pub read_only: bool,
}

/// How the gateway reaches a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Command,
    Socket,
    Remote(RemoteTransport),
}

impl ServerConfig {
    pub fn stdio(&self) -> StdioConfig {
        StdioConfig {
            command: self.command.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            secret_env: self.secret_env.clone(),
        }
    }

    pub fn kind(&self) -> Kind {
        if self.command.is_some() {
            Kind::Command
        } else if self.socket.is_some() {
            Kind::Socket
        } else {
            Kind::Remote(self.transport)
        }
    }

    /// What `/servers` calls the transport: how the server itself speaks.
    pub fn transport_name(&self) -> &'static str {
        match self.kind() {
            Kind::Command | Kind::Socket => "stdio",
            Kind::Remote(RemoteTransport::StreamableHttp) => "streamable-http",
            Kind::Remote(RemoteTransport::Sse) => "sse",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteTransport {
    /// MCP's streamable HTTP (2025-03-26 and later).
    #[default]
    StreamableHttp,
    /// The legacy HTTP+SSE transport (2024-11-05).
    Sse,
}

/// A stdio server: the program and what it is started with.
#[derive(Debug, Clone, Default)]
pub struct StdioConfig {
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub secret_env: BTreeMap<String, SecretSource>,
}

impl StdioConfig {
    /// `path` is the server's path, empty for the wrapper's top level.
    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let at = |field: &str| {
            if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        };
        if self.command.as_deref() == Some("") {
            return Err(ConfigError::at(at("command"), "is empty"));
        }
        for name in self.env.keys().chain(self.secret_env.keys()) {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(ConfigError::at(
                    at("env"),
                    format!("`{name}` is not an environment variable name"),
                ));
            }
        }
        for (name, source) in &self.secret_env {
            source.check(&at(&format!("secretEnv.{name}")))?;
            if self.env.contains_key(name) {
                return Err(ConfigError::at(
                    at(&format!("secretEnv.{name}")),
                    "is also set in env; set it in one place",
                ));
            }
        }
        Ok(())
    }
}

/// Which tools a server shows: glob patterns (`*` matches any run of
/// characters) over tool names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolsConfig {
    /// When not empty, only tools matching one of these.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Never tools matching one of these; deny wins over allow.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        check_listen("listen", &self.listen)?;
        self.clients.check("clients", "gateway")?;
        check_origins("allowedOrigins", &self.allowed_origins)?;
        check_positive("checkInterval", self.check_interval)?;
        check_positive("checkTimeout", self.check_timeout)?;
        check_positive("callTimeout", self.call_timeout)?;
        let mut names = HashSet::new();
        for (i, server) in self.servers.iter().enumerate() {
            let path = format!("servers[{i}]");
            check_server_name(&format!("{path}.name"), &server.name)?;
            if !names.insert(server.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.name"),
                    format!("`{}` is used by another server", server.name),
                ));
            }
            let set = [
                server.command.is_some(),
                server.socket.is_some(),
                server.url.is_some(),
            ];
            if set.iter().filter(|s| **s).count() != 1 {
                return Err(ConfigError::at(
                    path,
                    "set exactly one of command (a stdio server), socket (a wrapped one) or url (a remote one)",
                ));
            }
            let stdio = server.stdio();
            stdio.check(&path)?;
            if stdio.command.is_none()
                && (!stdio.args.is_empty() || !stdio.env.is_empty() || !stdio.secret_env.is_empty())
            {
                return Err(ConfigError::at(
                    format!("{path}.args"),
                    "args, env and secretEnv belong to a command server",
                ));
            }
            if let Some(socket) = &server.socket {
                if !socket.is_absolute() {
                    return Err(ConfigError::at(
                        format!("{path}.socket"),
                        format!("`{}` is not an absolute path", socket.display()),
                    ));
                }
            }
            if let Some(url) = &server.url {
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ConfigError::at(
                        format!("{path}.url"),
                        format!("`{url}` is not an http(s) URL"),
                    ));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(ConfigError::at(
                        format!("{path}.url"),
                        "holds credentials; use bearerToken (a file) instead",
                    ));
                }
            } else if !server.headers.is_empty() || server.bearer_token.is_some() {
                return Err(ConfigError::at(
                    format!("{path}.headers"),
                    "headers and bearerToken belong to a remote (url) server",
                ));
            }
            for (name, value) in &server.headers {
                let header = axum::http::HeaderName::try_from(name.as_str());
                if header.is_err() || axum::http::HeaderValue::try_from(value.as_str()).is_err() {
                    return Err(ConfigError::at(
                        format!("{path}.headers.{name}"),
                        "is not a valid HTTP header",
                    ));
                }
                if name.eq_ignore_ascii_case("authorization") {
                    return Err(ConfigError::at(
                        format!("{path}.headers.{name}"),
                        "would put a secret in the config; use bearerToken (a file)",
                    ));
                }
            }
            if let Some(token) = &server.bearer_token {
                token.check(&format!("{path}.bearerToken"))?;
            }
            for (j, pattern) in server.tools.allow.iter().enumerate() {
                check_pattern(&format!("{path}.tools.allow[{j}]"), pattern)?;
            }
            for (j, pattern) in server.tools.deny.iter().enumerate() {
                check_pattern(&format!("{path}.tools.deny[{j}]"), pattern)?;
            }
        }
        Ok(())
    }
}

/// Server names are URL path segments, unit names and metric labels.
fn check_server_name(path: &str, name: &str) -> Result<(), ConfigError> {
    check_name(path, name)?;
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!("`{name}` is not a server name (a-z 0-9 - _, starting with a letter or digit)"),
        ))
    }
}

fn check_pattern(path: &str, pattern: &str) -> Result<(), ConfigError> {
    if pattern.is_empty() {
        Err(ConfigError::at(path, "is empty"))
    } else {
        Ok(())
    }
}

impl Common for Config {
    fn log(&self) -> &LogConfig {
        &self.log
    }
    fn listen(&self) -> &str {
        &self.listen
    }
}

/// `hwc-ai-mcp wrap`: one stdio server behind a unix socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WrapConfig {
    pub name: String,
    /// Bound when systemd passes no socket (`LISTEN_FDS`).
    pub socket: PathBuf,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables whose values are secrets, read from files.
    #[serde(default)]
    pub secret_env: BTreeMap<String, SecretSource>,
    /// How long the server may take to answer `initialize` before it is
    /// killed and started again.
    #[serde(default = "default_initialize_timeout", with = "humantime_serde")]
    pub initialize_timeout: Duration,
}

/// Servers started through `npx` or `uvx` may download on first start.
pub fn default_initialize_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Validate for WrapConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_server_name("name", &self.name)?;
        if !self.socket.is_absolute() {
            return Err(ConfigError::at(
                "socket",
                format!("`{}` is not an absolute path", self.socket.display()),
            ));
        }
        if self.command.is_none() {
            return Err(ConfigError::at("command", "is required"));
        }
        self.stdio().check("")?;
        check_positive("initializeTimeout", self.initialize_timeout)
    }
}

impl WrapConfig {
    pub fn stdio(&self) -> StdioConfig {
        StdioConfig {
            command: self.command.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            secret_env: self.secret_env.clone(),
        }
    }
}

impl Common for WrapConfig {
    fn log(&self) -> &LogConfig {
        &self.log
    }
    /// The socket's path (validated as UTF-8 by serde's `PathBuf`).
    fn listen(&self) -> &str {
        self.socket.to_str().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(doc: serde_json::Value) -> Result<Config, ConfigError> {
        hwc_ai_runtime::config::parse(&doc.to_string())
    }

    #[test]
    fn kinds_and_defaults() {
        let config = parse(json!({"servers": [
            {"name": "time", "command": "mcp-server-time", "args": ["--local-timezone", "UTC"]},
            {"name": "files", "socket": "/run/hwc-ai-mcp/files.sock", "readOnly": true},
            {"name": "remote", "url": "https://mcp.example/mcp", "transport": "sse",
             "bearerToken": {"credential": "remote-token"}},
        ]}))
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9433");
        assert_eq!(config.check_interval, Duration::from_secs(30));
        let kinds: Vec<_> = config.servers.iter().map(ServerConfig::kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Command,
                Kind::Socket,
                Kind::Remote(RemoteTransport::Sse)
            ]
        );
        assert_eq!(config.servers[1].transport_name(), "stdio");
        assert_eq!(config.servers[2].transport_name(), "sse");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"servers": [{"name": "a"}]}), "servers[0]"),
            (
                json!({"servers": [{"name": "a", "command": "x", "url": "http://h/mcp"}]}),
                "servers[0]",
            ),
            (
                json!({"servers": [{"name": "A b", "command": "x"}]}),
                "servers[0].name",
            ),
            (
                json!({"servers": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]}),
                "servers[1].name",
            ),
            (
                json!({"servers": [{"name": "a", "socket": "rel.sock"}]}),
                "servers[0].socket",
            ),
            (
                json!({"servers": [{"name": "a", "url": "https://u:p@h/mcp"}]}),
                "servers[0].url",
            ),
            (
                json!({"servers": [{"name": "a", "url": "https://h/mcp", "headers": {"Authorization": "Bearer x"}}]}),
                "servers[0].headers.Authorization",
            ),
            (
                json!({"servers": [{"name": "a", "command": "x", "secretEnv": {"T": {"file": "t"}}}]}),
                "servers[0].secretEnv.T.file",
            ),
            (
                json!({"servers": [{"name": "a", "command": "x", "tools": {"deny": [""]}}]}),
                "servers[0].tools.deny[0]",
            ),
            (
                json!({"allowedOrigins": ["http://h:8080/"]}),
                "allowedOrigins[0]",
            ),
            (
                json!({"clients": {"allowUnauthenticatedLoopback": false}}),
                "clients",
            ),
        ];
        for (doc, path) in cases {
            let err = parse(doc.clone()).expect_err(&doc.to_string());
            assert_eq!(err.path, path, "{doc}: {err}");
        }
        let err = parse(json!({"servers": [{"name": "a", "comand": "x"}]})).unwrap_err();
        assert!(err.to_string().contains("comand"), "{err}");
    }

    #[test]
    fn wrap_config() {
        let config: WrapConfig = hwc_ai_runtime::config::parse(
            &json!({"name": "time", "socket": "/run/hwc-ai-mcp/time.sock",
                    "command": "/bin/mcp-server-time", "secretEnv": {"TOKEN": {"credential": "TOKEN"}}})
            .to_string(),
        )
        .unwrap();
        assert_eq!(config.initialize_timeout, Duration::from_secs(30));
        let err = hwc_ai_runtime::config::parse::<WrapConfig>(
            &json!({"name": "time", "socket": "/s.sock"}).to_string(),
        )
        .unwrap_err();
        assert_eq!(err.path, "command");
    }
}
