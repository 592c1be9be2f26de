//! The prober's config document (see docs/prober.md).
//!
//! Targets are one flat struct with a `kind`, not a serde-tagged enum: that
//! way an error inside a target still names its full path
//! (`targets[2].url`), and fields that do not apply to a kind are rejected
//! by name instead of being silently ignored.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use hwc_ai_runtime::config::{self, check_listen, check_name};
use hwc_ai_runtime::{Common, ConfigError, LogConfig, SecretSource, Validate};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default = "default_max_concurrent_probes")]
    pub max_concurrent_probes: usize,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    #[serde(default)]
    pub alerts: AlertsConfig,
}

/// Loopback only: metrics and health are for the local Prometheus and the
/// `hwc-ai` command; exposing them is the operator's explicit choice.
fn default_listen() -> String {
    hwc_ai_runtime::daemons::PROBER.listen.to_owned()
}

/// Enough to probe a homelab's services all at once, few enough that a
/// thousand slow targets cannot exhaust file descriptors.
fn default_max_concurrent_probes() -> usize {
    64
}

/// A health body is small; anything longer is read no further, so an
/// endless or hostile body cannot hold memory or time.
fn default_max_body_bytes() -> usize {
    64 * 1024
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    #[serde(default = "default_success_threshold")]
    pub success_threshold: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            timeout: default_timeout(),
            failure_threshold: default_failure_threshold(),
            success_threshold: default_success_threshold(),
        }
    }
}

/// Twice a Prometheus scrape interval's default: an outage is noticed within
/// about 1.5 minutes (three failures) at negligible load.
fn default_interval() -> Duration {
    Duration::from_secs(30)
}

/// A healthy local service answers its health endpoint in milliseconds;
/// five seconds means something is wrong.
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Three misses in a row: one lost packet or GC pause is not an outage.
fn default_failure_threshold() -> u32 {
    3
}

/// Two good answers in a row before declaring recovery, so a service that
/// flaps is not announced as recovered on every other probe.
fn default_success_threshold() -> u32 {
    2
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Http,
    Tcp,
    Ollama,
    OpenWebui,
    HwcAi,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Tcp => "tcp",
            Kind::Ollama => "ollama",
            Kind::OpenWebui => "open-webui",
            Kind::HwcAi => "hwc-ai",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetConfig {
    pub name: String,
    pub kind: Kind,
    pub url: Option<Url>,
    pub address: Option<String>,
    pub method: Option<String>,
    pub expect_status: Option<Vec<u16>>,
    pub body: Option<BodyCondition>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub bearer_token: Option<SecretSource>,
    pub tls: Option<TlsConfig>,
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
}

/// One condition on the response body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BodyCondition {
    pub contains: Option<String>,
    pub regex: Option<String>,
    pub json_pointer: Option<String>,
    pub equals: Option<serde_json::Value>,
}

/// A target's `tls`: the runtime's TLS config; `insecureSkipVerify` is
/// allowed here (self-signed lab services), `serverName` is not.
pub use hwc_ai_runtime::client::TlsConfig;

/// What a target's `tls` may use beyond the CA and a client certificate.
pub const TLS_ALLOWS: hwc_ai_runtime::client::TlsAllows = hwc_ai_runtime::client::TlsAllows {
    server_name: false,
    insecure_skip_verify: true,
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    /// A URL that is not secret.
    pub url: Option<Url>,
    /// A URL that is a secret (an ntfy topic, a token in the query).
    pub url_from: Option<SecretSource>,
    #[serde(default)]
    pub format: AlertFormat,
    pub bearer_token: Option<SecretSource>,
    #[serde(default = "default_alert_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_alert_retries")]
    pub retries: u32,
}

/// Per attempt; a webhook receiver is a small service on the LAN or ntfy.
fn default_alert_timeout() -> Duration {
    Duration::from_secs(10)
}

/// With backoff doubling from 1 s, five retries cover about a minute of
/// receiver downtime.
fn default_alert_retries() -> u32 {
    5
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    /// A JSON document describing the transition.
    #[default]
    Json,
    /// ntfy: plain text body with Title, Priority and Tags headers.
    Ntfy,
}

impl Common for Config {
    fn listen(&self) -> &str {
        &self.listen
    }
    fn log(&self) -> &LogConfig {
        &self.log
    }
}

fn check_positive(path: &str, value: Option<Duration>) -> Result<(), ConfigError> {
    value.map_or(Ok(()), |d| config::check_positive(path, d))
}

fn check_threshold(path: &str, value: Option<u32>) -> Result<(), ConfigError> {
    match value {
        Some(0) => Err(ConfigError::at(path, "must be at least 1")),
        _ => Ok(()),
    }
}

fn check_http_url(path: &str, url: &Url) -> Result<(), ConfigError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::at(
            path,
            format!("scheme `{}` is not http or https", url.scheme()),
        ));
    }
    if url.host().is_none() {
        return Err(ConfigError::at(path, "URL has no host"));
    }
    Ok(())
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        check_listen("listen", &self.listen)?;
        if self.max_concurrent_probes == 0 {
            return Err(ConfigError::at("maxConcurrentProbes", "must be at least 1"));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::at("maxBodyBytes", "must be at least 1"));
        }
        check_positive("defaults.interval", Some(self.defaults.interval))?;
        check_positive("defaults.timeout", Some(self.defaults.timeout))?;
        check_threshold(
            "defaults.failureThreshold",
            Some(self.defaults.failure_threshold),
        )?;
        check_threshold(
            "defaults.successThreshold",
            Some(self.defaults.success_threshold),
        )?;
        let mut names = HashSet::new();
        for (i, target) in self.targets.iter().enumerate() {
            let path = format!("targets[{i}]");
            target.validate(&path, &self.defaults)?;
            if !names.insert(target.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.name"),
                    format!("`{}` is used by another target", target.name),
                ));
            }
        }
        let mut names = HashSet::new();
        for (i, hook) in self.alerts.webhooks.iter().enumerate() {
            let path = format!("alerts.webhooks[{i}]");
            hook.validate(&path)?;
            if !names.insert(hook.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.name"),
                    format!("`{}` is used by another webhook", hook.name),
                ));
            }
        }
        Ok(())
    }
}

impl TargetConfig {
    fn validate(&self, path: &str, defaults: &Defaults) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{path}.{field}");
        check_name(&at("name"), &self.name)?;
        check_positive(&at("interval"), self.interval)?;
        check_positive(&at("timeout"), self.timeout)?;
        check_threshold(&at("failureThreshold"), self.failure_threshold)?;
        check_threshold(&at("successThreshold"), self.success_threshold)?;
        if let Some(timeout) = self.timeout {
            let interval = self.interval(defaults);
            if timeout > interval {
                return Err(ConfigError::at(
                    at("timeout"),
                    format!(
                        "timeout ({}) is longer than the interval ({})",
                        humantime::format_duration(timeout),
                        humantime::format_duration(interval)
                    ),
                ));
            }
        }
        let kind = self.kind;
        let not_for = |field: &str| {
            Err(ConfigError::at(
                at(field),
                format!("not used by kind `{kind}`; remove it"),
            ))
        };
        if kind == Kind::Tcp {
            let Some(address) = &self.address else {
                return Err(ConfigError::at(
                    at("address"),
                    "kind `tcp` needs an address (host:port)",
                ));
            };
            match address.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => {
                    return Err(ConfigError::at(
                        at("address"),
                        format!("`{address}` is not host:port"),
                    ))
                }
            }
            for (field, set) in [
                ("url", self.url.is_some()),
                ("method", self.method.is_some()),
                ("expectStatus", self.expect_status.is_some()),
                ("body", self.body.is_some()),
                ("headers", !self.headers.is_empty()),
                ("bearerToken", self.bearer_token.is_some()),
                ("tls", self.tls.is_some()),
            ] {
                if set {
                    return not_for(field);
                }
            }
            return Ok(());
        }
        let Some(url) = &self.url else {
            return Err(ConfigError::at(
                at("url"),
                format!("kind `{kind}` needs a url"),
            ));
        };
        check_http_url(&at("url"), url)?;
        if self.address.is_some() {
            return not_for("address");
        }
        if kind != Kind::Http {
            for (field, set) in [
                ("method", self.method.is_some()),
                ("expectStatus", self.expect_status.is_some()),
                ("body", self.body.is_some()),
            ] {
                if set {
                    return not_for(field);
                }
            }
        }
        if let Some(method) = &self.method {
            if method.parse::<reqwest::Method>().is_err() || method.is_empty() {
                return Err(ConfigError::at(
                    at("method"),
                    format!("`{method}` is not an HTTP method"),
                ));
            }
        }
        if let Some(codes) = &self.expect_status {
            if codes.is_empty() {
                return Err(ConfigError::at(
                    at("expectStatus"),
                    "list at least one status, or leave it out to accept any 2xx",
                ));
            }
            if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
                return Err(ConfigError::at(
                    at("expectStatus"),
                    format!("{bad} is not an HTTP status code"),
                ));
            }
        }
        if let Some(body) = &self.body {
            body.validate(&at("body"))?;
        }
        for name in self.headers.keys() {
            let hpath = format!("{}.{name}", at("headers"));
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::at(hpath, "not a valid header name"));
            }
            if name.eq_ignore_ascii_case("authorization") {
                return Err(ConfigError::at(
                    hpath,
                    "credentials do not belong in the config: use bearerToken with a file or credential",
                ));
            }
        }
        for (name, value) in &self.headers {
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(ConfigError::at(
                    format!("{}.{name}", at("headers")),
                    "not a valid header value",
                ));
            }
        }
        if let Some(token) = &self.bearer_token {
            token.check(&at("bearerToken"))?;
        }
        if let Some(tls) = &self.tls {
            tls.check(&at("tls"), TLS_ALLOWS)?;
        }
        Ok(())
    }

    pub fn interval(&self, defaults: &Defaults) -> Duration {
        self.interval.unwrap_or(defaults.interval)
    }

    /// The target's own timeout, else the default one, but never longer
    /// than the interval: a probe ends before the next one is due.
    pub fn timeout(&self, defaults: &Defaults) -> Duration {
        self.timeout
            .unwrap_or(defaults.timeout)
            .min(self.interval(defaults))
    }
}

impl BodyCondition {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let set = [
            self.contains.is_some(),
            self.regex.is_some(),
            self.json_pointer.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            return Err(ConfigError::at(
                path,
                "give exactly one of contains, regex, jsonPointer",
            ));
        }
        if let Some(re) = &self.regex {
            regex::Regex::new(re)
                .map_err(|err| ConfigError::at(format!("{path}.regex"), err.to_string()))?;
        }
        if let Some(pointer) = &self.json_pointer {
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(ConfigError::at(
                    format!("{path}.jsonPointer"),
                    format!("`{pointer}` is not a JSON pointer (it starts with `/`)"),
                ));
            }
            if self.equals.is_none() {
                return Err(ConfigError::at(
                    format!("{path}.equals"),
                    "jsonPointer needs the value it must equal",
                ));
            }
        } else if self.equals.is_some() {
            return Err(ConfigError::at(
                format!("{path}.equals"),
                "equals goes with jsonPointer",
            ));
        }
        Ok(())
    }
}

impl WebhookConfig {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        check_name(&format!("{path}.name"), &self.name)?;
        match (&self.url, &self.url_from) {
            (Some(url), None) => check_http_url(&format!("{path}.url"), url)?,
            (None, Some(source)) => source.check(&format!("{path}.urlFrom"))?,
            _ => return Err(ConfigError::at(path, "give exactly one of url, urlFrom")),
        }
        if let Some(token) = &self.bearer_token {
            token.check(&format!("{path}.bearerToken"))?;
        }
        check_positive(&format!("{path}.timeout"), Some(self.timeout))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> String {
        hwc_ai_runtime::config::parse::<Config>(json)
            .expect_err("the config should be rejected")
            .to_string()
    }

    #[test]
    fn an_empty_document_is_a_valid_config_with_defaults() {
        let config: Config = hwc_ai_runtime::config::parse("{}").unwrap();
        assert_eq!(config.listen, "127.0.0.1:9430");
        assert_eq!(config.defaults.interval, Duration::from_secs(30));
        assert_eq!(config.defaults.failure_threshold, 3);
        assert!(config.targets.is_empty());
    }

    #[test]
    fn fields_of_another_kind_are_rejected_by_name() {
        assert_eq!(
            error(r#"{"targets":[{"name":"db","kind":"tcp","address":"h:5432","method":"GET"}]}"#),
            "targets[0].method: not used by kind `tcp`; remove it"
        );
        assert_eq!(
            error(
                r#"{"targets":[{"name":"o","kind":"ollama","url":"http://h","body":{"contains":"x"}}]}"#
            ),
            "targets[0].body: not used by kind `ollama`; remove it"
        );
        assert_eq!(
            error(r#"{"targets":[{"name":"w","kind":"http","address":"h:1","url":"http://h"}]}"#),
            "targets[0].address: not used by kind `http`; remove it"
        );
    }

    #[test]
    fn required_fields_per_kind() {
        assert_eq!(
            error(r#"{"targets":[{"name":"db","kind":"tcp"}]}"#),
            "targets[0].address: kind `tcp` needs an address (host:port)"
        );
        assert_eq!(
            error(r#"{"targets":[{"name":"w","kind":"open-webui"}]}"#),
            "targets[0].url: kind `open-webui` needs a url"
        );
        assert_eq!(
            error(r#"{"targets":[{"name":"w","kind":"http","url":"ftp://h/x"}]}"#),
            "targets[0].url: scheme `ftp` is not http or https"
        );
        assert!(
            error(r#"{"targets":[{"name":"w","kind":"grpc","url":"http://h"}]}"#)
                .starts_with("targets[0].kind: unknown variant `grpc`")
        );
    }

    #[test]
    fn names_are_unique_and_label_safe() {
        assert_eq!(
            error(
                r#"{"targets":[{"name":"a","kind":"tcp","address":"h:1"},{"name":"a","kind":"tcp","address":"h:2"}]}"#
            ),
            "targets[1].name: `a` is used by another target"
        );
        assert!(
            error(r#"{"targets":[{"name":"has space","kind":"tcp","address":"h:1"}]}"#)
                .starts_with("targets[0].name: `has space` is not a valid name")
        );
    }

    #[test]
    fn body_conditions_take_exactly_one_test() {
        let base = |body: &str| {
            format!(
                r#"{{"targets":[{{"name":"w","kind":"http","url":"http://h","body":{body}}}]}}"#
            )
        };
        assert_eq!(
            error(&base(r#"{"contains":"a","regex":"b"}"#)),
            "targets[0].body: give exactly one of contains, regex, jsonPointer"
        );
        assert!(error(&base(r#"{"regex":"("}"#))
            .starts_with("targets[0].body.regex: regex parse error"));
        assert_eq!(
            error(&base(r#"{"jsonPointer":"/status"}"#)),
            "targets[0].body.equals: jsonPointer needs the value it must equal"
        );
        assert_eq!(
            error(&base(r#"{"jsonPointer":"status","equals":"ok"}"#)),
            "targets[0].body.jsonPointer: `status` is not a JSON pointer (it starts with `/`)"
        );
    }

    #[test]
    fn thresholds_durations_and_statuses_are_checked() {
        assert_eq!(
            error(r#"{"defaults":{"failureThreshold":0}}"#),
            "defaults.failureThreshold: must be at least 1"
        );
        assert_eq!(
            error(r#"{"defaults":{"interval":"0s"}}"#),
            "defaults.interval: must be longer than 0s"
        );
        assert_eq!(
            error(
                r#"{"targets":[{"name":"w","kind":"tcp","address":"h:1","interval":"1s","timeout":"2s"}]}"#
            ),
            "targets[0].timeout: timeout (2s) is longer than the interval (1s)"
        );
        assert_eq!(
            error(
                r#"{"targets":[{"name":"w","kind":"http","url":"http://h","expectStatus":[200,999]}]}"#
            ),
            "targets[0].expectStatus: 999 is not an HTTP status code"
        );
    }

    #[test]
    fn webhooks_name_one_url_source() {
        assert_eq!(
            error(r#"{"alerts":{"webhooks":[{"name":"n"}]}}"#),
            "alerts.webhooks[0]: give exactly one of url, urlFrom"
        );
        assert_eq!(
            error(r#"{"alerts":{"webhooks":[{"name":"n","urlFrom":{"file":"relative"}}]}}"#),
            "alerts.webhooks[0].urlFrom.file: `relative` is not an absolute path"
        );
    }
}
