//! Config documents: one JSON file per daemon, strict, with errors that name
//! the field.
//!
//! Every config struct uses `#[serde(deny_unknown_fields)]`, so a typo is an
//! error, not a silently ignored line. Deserialisation goes through
//! `serde_path_to_error`, so the message names the field's path
//! (`targets[2].url: relative URL without a base`). Checks that serde cannot
//! express live in [`Validate`] and report paths the same way.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A config problem, with the path of the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Field path such as `targets[2].url`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "." {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Checks beyond what the types express (ranges, duplicates, cross-field
/// rules). Report every problem's field path.
pub trait Validate {
    fn validate(&self) -> Result<(), ConfigError>;

    /// Completes a parsed document before it is validated, e.g. with a file
    /// an environment variable names. The default keeps it as it is.
    fn complete(self) -> Result<Self, ConfigError>
    where
        Self: Sized,
    {
        Ok(self)
    }
}

/// Parses and validates a config document.
pub fn parse<T: DeserializeOwned + Validate>(text: &str) -> Result<T, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("invalid JSON: {inner}")
        } else {
            // serde_json appends " at line L column C"; the path says more.
            strip_position(&inner.to_string()).to_owned()
        };
        ConfigError { path, message }
    })?;
    let value = value.complete()?;
    value.validate()?;
    Ok(value)
}

/// Reads, parses and validates the config file at `path`.
pub fn load<T: DeserializeOwned + Validate>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| ConfigError::at("", format!("cannot read {}: {err}", path.display())))?;
    parse(&text)
}

fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => &message[..at],
        _ => message,
    }
}

/// The fields every daemon's config has.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a full `tracing` filter
    /// such as `info,hwc_ai_prober=debug`. `RUST_LOG`, when set, wins: an
    /// operator debugging a unit should not have to rebuild its config.
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_log_level(),
            format: LogFormat::default(),
        }
    }
}

/// Info: one line per probe transition, pull or request, not per chunk.
fn default_log_level() -> String {
    "info".to_owned()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event; journald-friendly under systemd.
    #[default]
    Plain,
    /// One JSON object per line, for log shippers.
    Json,
}

/// What the runtime needs from every daemon's config.
pub trait Common {
    /// `host:port` to bind when systemd passes no socket.
    fn listen(&self) -> &str;
    fn log(&self) -> &LogConfig;
    /// The `tracing` section (OpenTelemetry traces), for a daemon that
    /// takes one; `serve` installs the exporter when it is set.
    fn tracing(&self) -> Option<&crate::otel::TracingConfig> {
        None
    }
}

/// Checks a `host:port` listen address and names the field on error.
pub fn check_listen(path: &str, listen: &str) -> Result<(), ConfigError> {
    listen
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .map_err(|_| {
            ConfigError::at(
                path,
                format!("`{listen}` is not an IP address with a port, e.g. 127.0.0.1:9430"),
            )
        })
}

/// A configured name that becomes a metric label, a log field and a table
/// cell: 1-64 of `A-Z a-z 0-9 - _ . :`, so labels stay bounded and safe.
pub fn check_name(path: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!("`{name}` is not a valid name (1-64 of A-Z a-z 0-9 - _ . :)"),
        ))
    }
}

/// Browser origins (`allowedOrigins`): `scheme://host[:port]`, no path,
/// or `null`. `path` is the field's path.
pub fn check_origins(path: &str, origins: &[String]) -> Result<(), ConfigError> {
    for (i, origin) in origins.iter().enumerate() {
        let ok = origin == "null"
            || url::Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.host().is_some()
            });
        if !ok || origin.ends_with('/') {
            return Err(ConfigError::at(
                format!("{path}[{i}]"),
                format!("`{origin}` is not an origin such as http://localhost:8080"),
            ));
        }
    }
    Ok(())
}

/// A duration that must be longer than zero (an interval, a timeout).
pub fn check_positive(path: &str, value: std::time::Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::at(path, "must be longer than 0s"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Doc {
        items: Vec<Item>,
        #[serde(default, with = "humantime_serde")]
        interval: Option<std::time::Duration>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        #[allow(dead_code)]
        count: u32,
    }

    impl Validate for Doc {
        fn validate(&self) -> Result<(), ConfigError> {
            if self.items.is_empty() {
                return Err(ConfigError::at("items", "at least one item is required"));
            }
            Ok(())
        }
    }

    #[test]
    fn error_names_the_field_path() {
        let err = parse::<Doc>(r#"{"items":[{"count":1},{"count":"x"}]}"#).unwrap_err();
        assert_eq!(err.path, "items[1].count");
        assert!(
            err.message.starts_with("invalid type: string \"x\""),
            "{err}"
        );
        assert!(!err.to_string().contains("line"), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let err = parse::<Doc>(r#"{"items":[{"count":1,"cuont":2}]}"#).unwrap_err();
        assert_eq!(err.path, "items[0].cuont");
        assert!(err.message.contains("unknown field `cuont`"), "{err}");
    }

    #[test]
    fn human_durations_parse_and_bad_ones_are_named() {
        let doc = parse::<Doc>(r#"{"items":[{"count":1}],"interval":"1m 30s"}"#).unwrap();
        assert_eq!(doc.interval, Some(std::time::Duration::from_secs(90)));
        let err = parse::<Doc>(r#"{"items":[{"count":1}],"interval":"soon"}"#).unwrap_err();
        assert_eq!(err.path, "interval");
    }

    #[test]
    fn validation_runs_after_parsing() {
        let err = parse::<Doc>(r#"{"items":[]}"#).unwrap_err();
        assert_eq!(err.to_string(), "items: at least one item is required");
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse::<Doc>("{\"items\": [,]}").unwrap_err();
        assert!(err.message.starts_with("invalid JSON"), "{err}");
        assert!(err.message.contains("line 1"), "{err}");
    }

    #[test]
    fn listen_must_be_an_address_with_port() {
        assert!(check_listen("listen", "127.0.0.1:9430").is_ok());
        assert!(check_listen("listen", "[::1]:9430").is_ok());
        let err = check_listen("listen", "localhost").unwrap_err();
        assert_eq!(err.path, "listen");
    }
}
