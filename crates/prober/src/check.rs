//! One probe of one target: what is asked, and what counts as success.
//!
//! Every phase is bounded: the whole probe runs under the target's timeout
//! (connect, headers and body together), and a body is read up to
//! `maxBodyBytes` and no further. A slow, endless or garbage answer fails
//! this probe and cannot hold up any other.

use std::error::Error as _;
use std::time::{Duration, Instant};

use hwc_ai_runtime::ConfigError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Client, Method};
use url::Url;

use crate::config::{BodyCondition, Config, Kind, TargetConfig, TlsConfig};

/// A target ready to probe: config resolved, secrets read, client built.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    check: Check,
}

#[derive(Debug)]
enum Check {
    Http(HttpCheck),
    Tcp(String),
    /// `/api/version`, then `/api/tags` for the model count.
    Ollama(HttpCheck, Url),
}

#[derive(Debug)]
struct HttpCheck {
    client: Client,
    method: Method,
    url: Url,
    headers: HeaderMap,
    /// Empty: any 2xx.
    expect: Vec<u16>,
    body: Option<Condition>,
    /// Read the body even without a condition (the caller parses it).
    read_body: bool,
}

#[derive(Debug)]
enum Condition {
    Contains(String),
    Regex(regex::Regex),
    JsonPointer(String, serde_json::Value),
}

/// The result of one probe.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub success: bool,
    pub duration: Duration,
    pub status: Option<u16>,
    /// Why it failed, in words an operator acts on.
    pub error: Option<String>,
    /// Ollama only: models installed.
    pub models: Option<u64>,
}

/// Builds every target, reading secrets. Errors name the field.
pub fn build(config: &Config) -> Result<Vec<Target>, ConfigError> {
    let mut clients: Vec<(Option<TlsConfig>, Client)> = Vec::new();
    let mut targets = Vec::with_capacity(config.targets.len());
    for (i, spec) in config.targets.iter().enumerate() {
        let path = format!("targets[{i}]");
        targets.push(build_target(config, spec, &path, &mut clients)?);
    }
    Ok(targets)
}

fn build_target(
    config: &Config,
    spec: &TargetConfig,
    path: &str,
    clients: &mut Vec<(Option<TlsConfig>, Client)>,
) -> Result<Target, ConfigError> {
    let check = match spec.kind {
        Kind::Tcp => Check::Tcp(spec.address.clone().unwrap_or_default()),
        kind => {
            let base = spec.url.clone().expect("validated: url present");
            let key = spec.tls.clone();
            let client = match clients.iter().find(|(k, _)| *k == key) {
                Some((_, client)) => client.clone(),
                None => {
                    let client = client(spec.tls.as_ref(), path)?;
                    clients.push((key, client.clone()));
                    client
                }
            };
            let mut headers = HeaderMap::new();
            for (name, value) in &spec.headers {
                headers.insert(
                    HeaderName::from_bytes(name.as_bytes()).expect("validated"),
                    HeaderValue::from_str(value).expect("validated"),
                );
            }
            if let Some(source) = &spec.bearer_token {
                let token = source.read(&format!("{path}.bearerToken"))?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        ConfigError::at(
                            format!("{path}.bearerToken"),
                            "the token is not valid in an HTTP header",
                        )
                    })?;
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            let http = |url: Url, expect: Vec<u16>, method: Method, body| HttpCheck {
                client: client.clone(),
                method,
                url,
                headers: headers.clone(),
                expect,
                body,
                read_body: kind == Kind::Ollama,
            };
            match kind {
                Kind::Http => http(
                    base,
                    spec.expect_status.clone().unwrap_or_default(),
                    spec.method
                        .as_deref()
                        .unwrap_or("GET")
                        .parse()
                        .expect("validated"),
                    spec.body.as_ref().map(condition),
                ),
                Kind::Ollama => {
                    let version = join(&base, "api/version");
                    let tags = join(&base, "api/tags");
                    return Ok(target(
                        config,
                        spec,
                        Check::Ollama(http(version, vec![200], Method::GET, None), tags),
                    ));
                }
                Kind::OpenWebui | Kind::HwcAi => {
                    http(join(&base, "health"), vec![200], Method::GET, None)
                }
                Kind::Tcp => unreachable!(),
            }
            .into()
        }
    };
    Ok(target(config, spec, check))
}

impl From<HttpCheck> for Check {
    fn from(check: HttpCheck) -> Self {
        Check::Http(check)
    }
}

fn target(config: &Config, spec: &TargetConfig, check: Check) -> Target {
    Target {
        name: spec.name.clone(),
        kind: spec.kind,
        interval: spec.interval(&config.defaults),
        timeout: spec.timeout(&config.defaults),
        failure_threshold: spec
            .failure_threshold
            .unwrap_or(config.defaults.failure_threshold),
        success_threshold: spec
            .success_threshold
            .unwrap_or(config.defaults.success_threshold),
        check,
    }
}

/// `base` + `path`, keeping any path prefix `base` has (a service behind a
/// reverse proxy at `/ollama/`).
fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{path}"));
    url
}

fn condition(body: &BodyCondition) -> Condition {
    if let Some(s) = &body.contains {
        Condition::Contains(s.clone())
    } else if let Some(re) = &body.regex {
        Condition::Regex(regex::Regex::new(re).expect("validated"))
    } else {
        Condition::JsonPointer(
            body.json_pointer.clone().unwrap_or_default(),
            body.equals.clone().unwrap_or_default(),
        )
    }
}

fn client(tls: Option<&TlsConfig>, path: &str) -> Result<Client, ConfigError> {
    let mut builder = hwc_ai_runtime::client::builder("prober")
        // A probe asks about this hop, not wherever it redirects to.
        .redirect(reqwest::redirect::Policy::none())
        // A fresh connection per probe, as blackbox_exporter does: a probe
        // sees what a new client sees (accept queue, TLS handshake), and a
        // thousand targets hold no idle sockets between probes.
        .pool_max_idle_per_host(0);
    if let Some(tls) = tls {
        builder = tls.apply(builder, &format!("{path}.tls"))?;
    }
    hwc_ai_runtime::client::build(builder, &format!("{path}.tls"))
}

impl Target {
    /// Runs one probe under the target's timeout.
    pub async fn probe(&self, max_body: usize) -> Outcome {
        let start = Instant::now();
        let mut outcome = Outcome::default();
        let result =
            tokio::time::timeout(self.timeout, self.check.run(max_body, &mut outcome)).await;
        outcome.duration = start.elapsed();
        match result {
            Ok(Ok(())) => outcome.success = true,
            Ok(Err(reason)) => outcome.error = Some(reason),
            Err(_) => {
                outcome.error = Some(format!(
                    "timeout after {}",
                    humantime::format_duration(self.timeout)
                ))
            }
        }
        outcome
    }
}

impl Check {
    async fn run(&self, max_body: usize, outcome: &mut Outcome) -> Result<(), String> {
        match self {
            Check::Tcp(address) => tokio::net::TcpStream::connect(address)
                .await
                .map(drop)
                .map_err(|err| io_reason(&err).unwrap_or_else(|| err.to_string())),
            Check::Http(check) => check.run(max_body, outcome).await.map(drop),
            Check::Ollama(version, tags) => {
                let body = version.run(max_body, outcome).await?;
                parse_json(&body)?
                    .get("version")
                    .and_then(|v| v.as_str())
                    .ok_or("/api/version: no `version` string in the reply")?;
                // The model list grows with the models installed; allow it
                // more room than a health body, still bounded.
                let listing = HttpCheck {
                    client: version.client.clone(),
                    method: Method::GET,
                    url: tags.clone(),
                    headers: version.headers.clone(),
                    expect: vec![200],
                    body: None,
                    read_body: true,
                };
                let body = listing
                    .run(max_body.max(4 << 20), outcome)
                    .await
                    .map_err(|e| format!("/api/tags: {e}"))?;
                let models = parse_json(&body)
                    .map_err(|e| format!("/api/tags: {e}"))?
                    .get("models")
                    .and_then(|m| m.as_array())
                    .map(|m| m.len() as u64)
                    .ok_or("/api/tags: no `models` list in the reply")?;
                outcome.models = Some(models);
                Ok(())
            }
        }
    }
}

/// A body read up to a limit; `truncated` when there was more.
struct Body {
    bytes: Vec<u8>,
    truncated: bool,
}

impl HttpCheck {
    async fn run(&self, max_body: usize, outcome: &mut Outcome) -> Result<Body, String> {
        let mut response = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(|err| reqwest_reason(&err))?;
        let status = response.status().as_u16();
        outcome.status = Some(status);
        let status_ok = if self.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect.contains(&status)
        };
        if !status_ok {
            return Err(format!("status {status}"));
        }
        let mut body = Body {
            bytes: Vec::new(),
            truncated: false,
        };
        if self.body.is_none() && !self.read_body {
            return Ok(body);
        }
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| format!("reading body: {}", reqwest_reason(&err)))?
        {
            let room = max_body - body.bytes.len();
            if chunk.len() > room {
                body.bytes.extend_from_slice(&chunk[..room]);
                body.truncated = true;
                break;
            }
            body.bytes.extend_from_slice(&chunk);
        }
        if let Some(condition) = &self.body {
            condition.check(&body)?;
        }
        Ok(body)
    }
}

fn parse_json(body: &Body) -> Result<serde_json::Value, String> {
    if body.truncated {
        return Err(format!(
            "body is larger than the {} bytes read",
            body.bytes.len()
        ));
    }
    serde_json::from_slice(&body.bytes).map_err(|err| format!("body is not JSON: {err}"))
}

impl Condition {
    fn check(&self, body: &Body) -> Result<(), String> {
        let text = String::from_utf8_lossy(&body.bytes);
        match self {
            Condition::Contains(needle) if text.contains(needle.as_str()) => Ok(()),
            Condition::Contains(needle) => Err(format!(
                "body condition failed: does not contain {needle:?}{}",
                if body.truncated {
                    " (in the part read)"
                } else {
                    ""
                }
            )),
            Condition::Regex(re) if re.is_match(&text) => Ok(()),
            Condition::Regex(re) => Err(format!(
                "body condition failed: no match for /{}/",
                re.as_str()
            )),
            Condition::JsonPointer(pointer, expected) => {
                let doc = parse_json(body).map_err(|e| format!("body condition failed: {e}"))?;
                match doc.pointer(pointer) {
                    Some(found) if found == expected => Ok(()),
                    Some(found) => Err(format!(
                        "body condition failed: {pointer} is {found}, expected {expected}"
                    )),
                    None => Err(format!("body condition failed: {pointer} is missing")),
                }
            }
        }
    }
}

/// A short reason from an I/O error, for the kinds operators meet.
fn io_reason(err: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind::*;
    Some(
        match err.kind() {
            ConnectionRefused => "connection refused",
            ConnectionReset => "connection reset",
            ConnectionAborted => "connection aborted",
            TimedOut => "connect timed out",
            HostUnreachable => "host unreachable",
            NetworkUnreachable => "network unreachable",
            AddrNotAvailable => "address not available",
            UnexpectedEof => "connection closed early",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Why a request failed, without the URL (it may carry a token).
fn reqwest_reason(err: &reqwest::Error) -> String {
    let mut source = err.source();
    let mut innermost = None;
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(reason) = io_reason(io) {
                return reason;
            }
        }
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    let detail = innermost.unwrap_or_else(|| "request failed".to_owned());
    if err.is_connect() {
        format!("connect failed: {detail}")
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else {
        detail
    }
}
