//! Alerts on state transitions: webhook POSTs, retried with backoff, never
//! in the probing path.
//!
//! Each webhook has its own bounded queue and delivery task. Probing only
//! `try_send`s; when a receiver is down long enough to fill the queue, the
//! newest alert is dropped, counted and logged, and probing goes on.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hwc_ai_runtime::{ConfigError, Secret, Shutdown};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::{AlertFormat, Kind, WebhookConfig};
use crate::metrics::{Metrics, SinkLabels};
use crate::state::State;

/// Alerts waiting per webhook; a burst of transitions fits, a dead receiver
/// cannot grow memory without bound.
const QUEUE: usize = 256;
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One transition, as sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub source: &'static str,
    pub host: String,
    pub target: String,
    pub kind: Kind,
    pub state: State,
    pub previous_state: State,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

impl Alert {
    pub fn new(target: &str, kind: Kind, from: State, to: State, reason: Option<String>) -> Self {
        Self {
            source: "hwc-ai-prober",
            host: hostname(),
            target: target.to_owned(),
            kind,
            state: to,
            previous_state: from,
            reason,
            at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }
    }

    fn title(&self) -> String {
        format!(
            "{}: {} is {}",
            self.host,
            self.target,
            self.state.as_str().to_uppercase()
        )
    }

    fn text(&self) -> String {
        match (&self.state, &self.reason) {
            (State::Down, Some(reason)) => {
                format!("{} ({}) is DOWN: {reason}", self.target, self.kind)
            }
            (State::Up, _) if self.previous_state == State::Down => {
                format!("{} ({}) is UP again", self.target, self.kind)
            }
            _ => format!(
                "{} ({}) is {}",
                self.target,
                self.kind,
                self.state.as_str().to_uppercase()
            ),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Fans alerts out to every webhook's queue.
#[derive(Clone, Default)]
pub struct Alerter {
    sinks: Vec<(String, mpsc::Sender<Arc<Alert>>)>,
    metrics: Option<Arc<Metrics>>,
}

struct Webhook {
    name: String,
    url: Secret,
    format: AlertFormat,
    bearer: Option<Secret>,
    timeout: Duration,
    retries: u32,
}

impl Alerter {
    /// Reads the webhooks' secrets and starts one delivery task each.
    pub fn start(
        hooks: &[WebhookConfig],
        metrics: Arc<Metrics>,
        shutdown: Shutdown,
    ) -> Result<Self, ConfigError> {
        let client =
            hwc_ai_runtime::client::build(hwc_ai_runtime::client::builder("prober"), "alerts")?;
        let mut sinks = Vec::new();
        for (i, hook) in hooks.iter().enumerate() {
            let path = format!("alerts.webhooks[{i}]");
            let url = match (&hook.url, &hook.url_from) {
                (Some(url), _) => Secret::new(url.as_str()),
                (None, Some(source)) => source.read(&format!("{path}.urlFrom"))?,
                (None, None) => unreachable!("validated"),
            };
            if url::Url::parse(url.expose()).is_err() {
                return Err(ConfigError::at(
                    format!("{path}.urlFrom"),
                    "the secret is not a URL",
                ));
            }
            let bearer = hook
                .bearer_token
                .as_ref()
                .map(|s| s.read(&format!("{path}.bearerToken")))
                .transpose()?;
            let webhook = Webhook {
                name: hook.name.clone(),
                url,
                format: hook.format,
                bearer,
                timeout: hook.timeout,
                retries: hook.retries,
            };
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(deliver(
                webhook,
                rx,
                client.clone(),
                metrics.clone(),
                shutdown.clone(),
            ));
            sinks.push((hook.name.clone(), tx));
        }
        Ok(Self {
            sinks,
            metrics: Some(metrics),
        })
    }

    /// Queues an alert for every webhook without waiting.
    pub fn send(&self, alert: Alert) {
        let alert = Arc::new(alert);
        for (name, tx) in &self.sinks {
            if tx.try_send(alert.clone()).is_err() {
                tracing::warn!(
                    "alert queue for webhook {name} is full; dropped the alert for {}",
                    alert.target
                );
                if let Some(m) = &self.metrics {
                    m.alert_failures
                        .get_or_create(&SinkLabels {
                            webhook: name.clone(),
                        })
                        .inc();
                }
            }
        }
    }
}

async fn deliver(
    hook: Webhook,
    mut rx: mpsc::Receiver<Arc<Alert>>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    let labels = SinkLabels {
        webhook: hook.name.clone(),
    };
    let delivered = metrics.alert_deliveries.get_or_create(&labels).clone();
    let failed = metrics.alert_failures.get_or_create(&labels).clone();
    loop {
        let alert = tokio::select! {
            alert = rx.recv() => match alert { Some(a) => a, None => return },
            _ = shutdown.wait() => return,
        };
        let mut backoff = Duration::from_secs(1);
        for attempt in 0..=hook.retries {
            match post(&client, &hook, &alert).await {
                Ok(()) => {
                    delivered.inc();
                    tracing::debug!("alert for {} delivered to {}", alert.target, hook.name);
                    break;
                }
                Err(reason) => {
                    failed.inc();
                    let last = attempt == hook.retries;
                    tracing::warn!(
                        "alert for {} to webhook {} failed (attempt {} of {}): {reason}{}",
                        alert.target,
                        hook.name,
                        attempt + 1,
                        hook.retries + 1,
                        if last { "; giving up" } else { "" }
                    );
                    if last || !shutdown.sleep(backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

async fn post(client: &reqwest::Client, hook: &Webhook, alert: &Alert) -> Result<(), String> {
    let mut request = client.post(hook.url.expose()).timeout(hook.timeout);
    if let Some(token) = &hook.bearer {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| "the bearer token is not valid in an HTTP header".to_owned())?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    request = match hook.format {
        AlertFormat::Json => request.json(alert),
        AlertFormat::Ntfy => {
            let (priority, tags) = match alert.state {
                State::Down => ("high", "rotating_light"),
                _ => ("default", "white_check_mark"),
            };
            request
                .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("Title", alert.title())
                .header("Priority", priority)
                .header("Tags", tags)
                .body(alert.text())
        }
    };
    let response = request.send().await.map_err(|err| {
        // Never the URL: for ntfy it is the secret.
        if err.is_timeout() {
            "timed out".to_owned()
        } else if err.is_connect() {
            "cannot connect".to_owned()
        } else {
            "request failed".to_owned()
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("status {}", status.as_u16()))
    }
}
