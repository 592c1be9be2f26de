//! The read-only tools: a closed list, each with a JSON schema its
//! arguments are checked against before it runs, each answer bounded.
//! Nothing here writes, restarts, stops, deletes or executes: the only
//! outside calls are D-Bus property reads, `GET` requests and file reads.
//! The one exception is opt-in and narrow: Home Assistant's light
//! switches, present only when the operator enables actions and names the
//! lights (`home_assistant.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{Config, StackConfig};
use hwc_ai_runtime::ConfigError;

pub mod argocd;
pub mod containers;
mod docs;
pub mod docs_sync;
pub mod forge;
mod get;
mod git;
pub mod home_assistant;
pub mod journal;
pub mod kubernetes;
mod service;
mod stack;
pub mod system;
pub mod systemd;
pub mod vault;
pub mod web;

/// The most bytes of JSON one tool answer carries.
pub const MAX_OUTPUT: usize = 12 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    SystemOverview,
    DiskUsage,
    Services,
    RecentFailures,
    Containers,
    AiStack,
    Alerts,
    DocsSearch,
    HaEntities,
    HaLightOn,
    HaLightOff,
    K8sNamespaces,
    K8sPods,
    K8sWorkloads,
    K8sEvents,
    K8sPodLogs,
    K8sNodes,
    ArgocdApps,
    ArgocdApp,
    VaultStatus,
    VaultMounts,
    VaultPolicies,
    VaultKvKeys,
    ForgeRepos,
    ForgeIssues,
    ForgePulls,
    ForgePull,
    ForgeFile,
    ForgeDraftPr,
    WebFetch,
}

impl ToolName {
    /// The tools that read this machine, on unless `tools` says otherwise.
    pub const ALL: [ToolName; 8] = [
        ToolName::SystemOverview,
        ToolName::DiskUsage,
        ToolName::Services,
        ToolName::RecentFailures,
        ToolName::Containers,
        ToolName::AiStack,
        ToolName::Alerts,
        ToolName::DocsSearch,
    ];

    /// Home Assistant's, present only when it is configured (and, for the
    /// light switches, when actions are enabled).
    pub const HOME_ASSISTANT: [ToolName; 3] = [
        ToolName::HaEntities,
        ToolName::HaLightOn,
        ToolName::HaLightOff,
    ];

    /// Kubernetes', present only when it is configured (`kubernetes.rs`).
    pub const KUBERNETES: [ToolName; 6] = [
        ToolName::K8sNamespaces,
        ToolName::K8sPods,
        ToolName::K8sWorkloads,
        ToolName::K8sEvents,
        ToolName::K8sPodLogs,
        ToolName::K8sNodes,
    ];

    /// Argo CD's, present only when it is configured (`argocd.rs`).
    pub const ARGOCD: [ToolName; 2] = [ToolName::ArgocdApps, ToolName::ArgocdApp];

    /// Vault's, metadata only, present only when it is configured
    /// (`vault.rs`).
    pub const VAULT: [ToolName; 4] = [
        ToolName::VaultStatus,
        ToolName::VaultMounts,
        ToolName::VaultPolicies,
        ToolName::VaultKvKeys,
    ];

    /// The forge's reads, present only when it is configured (`forge.rs`);
    /// `forge_draft_pr` only when drafts are enabled too.
    pub const FORGE: [ToolName; 6] = [
        ToolName::ForgeRepos,
        ToolName::ForgeIssues,
        ToolName::ForgePulls,
        ToolName::ForgePull,
        ToolName::ForgeFile,
        ToolName::ForgeDraftPr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::SystemOverview => "system_overview",
            ToolName::DiskUsage => "disk_usage",
            ToolName::Services => "services",
            ToolName::RecentFailures => "recent_failures",
            ToolName::Containers => "containers",
            ToolName::AiStack => "ai_stack",
            ToolName::Alerts => "alerts",
            ToolName::DocsSearch => "docs_search",
            ToolName::HaEntities => "ha_entities",
            ToolName::HaLightOn => "ha_light_on",
            ToolName::HaLightOff => "ha_light_off",
            ToolName::K8sNamespaces => "k8s_namespaces",
            ToolName::K8sPods => "k8s_pods",
            ToolName::K8sWorkloads => "k8s_workloads",
            ToolName::K8sEvents => "k8s_events",
            ToolName::K8sPodLogs => "k8s_pod_logs",
            ToolName::K8sNodes => "k8s_nodes",
            ToolName::ArgocdApps => "argocd_apps",
            ToolName::ArgocdApp => "argocd_app",
            ToolName::VaultStatus => "vault_status",
            ToolName::VaultMounts => "vault_mounts",
            ToolName::VaultPolicies => "vault_policies",
            ToolName::VaultKvKeys => "vault_kv_keys",
            ToolName::ForgeRepos => "forge_repos",
            ToolName::ForgeIssues => "forge_issues",
            ToolName::ForgePulls => "forge_pulls",
            ToolName::ForgePull => "forge_pull",
            ToolName::ForgeFile => "forge_file",
            ToolName::ForgeDraftPr => "forge_draft_pr",
            ToolName::WebFetch => "web_fetch",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::HOME_ASSISTANT)
            .chain(Self::KUBERNETES)
            .chain(Self::ARGOCD)
            .chain(Self::VAULT)
            .chain(Self::FORGE)
            .chain([ToolName::WebFetch])
            .find(|t| t.as_str() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            ToolName::SystemOverview => "CPU usage and load, memory and swap use, and uptime of this machine.",
            ToolName::DiskUsage => "Size, used and free space of every mounted filesystem; flags those at 80% or more.",
            ToolName::Services => "systemd units and their state (active/sub state, since when, restart count): all, only failed ones, or the named ones.",
            ToolName::RecentFailures => "Units that failed, and services that restarted, within a time window.",
            ToolName::Containers => "Docker/Podman containers and their state.",
            ToolName::AiStack => "The hwc-ai AI stack: probed services' state, declared models' state, the router's targets and circuits.",
            ToolName::Alerts => "Alerts firing now, from Alertmanager or Prometheus.",
            ToolName::DocsSearch => "The operator's runbooks: list them, read one (file), or search them (query).",
            ToolName::HaEntities => "Home Assistant's entities and their states, optionally of one domain (e.g. light) and one area (e.g. Kitchen).",
            ToolName::HaLightOn => "Switch on one of the Home Assistant lights the operator allows, optionally at a brightness and colour temperature.",
            ToolName::HaLightOff => "Switch off one of the Home Assistant lights the operator allows.",
            ToolName::ArgocdApps | ToolName::ArgocdApp => argocd::description(self),
            ToolName::VaultStatus
            | ToolName::VaultMounts
            | ToolName::VaultPolicies
            | ToolName::VaultKvKeys => vault::description(self),
            ToolName::ForgeRepos
            | ToolName::ForgeIssues
            | ToolName::ForgePulls
            | ToolName::ForgePull
            | ToolName::ForgeFile
            | ToolName::ForgeDraftPr => forge::description(self),
            ToolName::WebFetch => web::description(),
            k8s => kubernetes::description(k8s),
        }
    }

    /// JSON schema of the arguments (OpenAI `parameters`); the lights'
    /// entity list comes from the config ([`Tools::parameters`]).
    pub fn parameters(self) -> Value {
        let none = json!({"type": "object", "properties": {}, "additionalProperties": false});
        match self {
            ToolName::SystemOverview | ToolName::AiStack | ToolName::Alerts => none,
            ToolName::DiskUsage => json!({
                "type": "object",
                "properties": {"mount": {"type": "string", "description": "Only this mount point, e.g. /var"}},
                "additionalProperties": false
            }),
            ToolName::Services => json!({
                "type": "object",
                "properties": {
                    "filter": {"type": "string", "enum": ["all", "failed", "named"], "description": "Which units: all (default), failed, or the ones in names"},
                    "names": {"type": "array", "items": {"type": "string", "maxLength": 256}, "maxItems": 50, "description": "Unit names for filter=named; `nginx` means nginx.service"}
                },
                "additionalProperties": false
            }),
            ToolName::RecentFailures => json!({
                "type": "object",
                "properties": {"hours": {"type": "number", "minimum": 0.1, "maximum": 720, "description": "How far back, in hours (default 24)"}},
                "additionalProperties": false
            }),
            ToolName::Containers => json!({
                "type": "object",
                "properties": {"all": {"type": "boolean", "description": "Include stopped containers (default true)"}},
                "additionalProperties": false
            }),
            ToolName::DocsSearch => json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "maxLength": 200, "description": "Words to search for"},
                    "file": {"type": "string", "maxLength": 300, "description": "A runbook to read, as listed"}
                },
                "additionalProperties": false
            }),
            ToolName::HaEntities => json!({
                "type": "object",
                "properties": {
                    "domain": {"type": "string", "pattern": "^[a-z_]+$", "description": "Only this domain, e.g. light"},
                    "area": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Only this area (its name, e.g. Kitchen)"}
                },
                "additionalProperties": false
            }),
            ToolName::HaLightOn | ToolName::HaLightOff => lights_schema(self, &[]),
            ToolName::ArgocdApps | ToolName::ArgocdApp => argocd::parameters(self),
            ToolName::VaultStatus
            | ToolName::VaultMounts
            | ToolName::VaultPolicies
            | ToolName::VaultKvKeys => vault::parameters(self),
            ToolName::ForgeRepos
            | ToolName::ForgeIssues
            | ToolName::ForgePulls
            | ToolName::ForgePull
            | ToolName::ForgeFile
            | ToolName::ForgeDraftPr => forge::parameters(self),
            ToolName::WebFetch => web::parameters(),
            k8s => kubernetes::parameters(k8s),
        }
    }
}

/// The switches' arguments: one of `entities`; turning a light on may set
/// its brightness and colour temperature (Home Assistant's units and
/// ranges; a light's own range is checked when it is called).
fn lights_schema(tool: ToolName, entities: &[String]) -> Value {
    let mut schema = json!({
        "type": "object",
        "properties": {"entity": {"type": "string", "enum": entities, "description": "The light's entity id"}},
        "required": ["entity"],
        "additionalProperties": false
    });
    if tool == ToolName::HaLightOn {
        let (low, high) = home_assistant::KELVIN_RANGE;
        schema["properties"]["brightness_pct"] = json!({"type": "number", "minimum": 0, "maximum": 100, "description": "Brightness in percent"});
        schema["properties"]["color_temp_kelvin"] = json!({"type": "number", "minimum": low, "maximum": high, "description": "Colour temperature in kelvin (2700 warm white, 6500 daylight)"});
    }
    schema
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{0}`")]
    Unknown(String),
    #[error("tool `{0}` is not enabled")]
    Disabled(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

/// What the tools need to know, from the config.
pub struct Tools {
    enabled: Vec<ToolName>,
    systemd: systemd::Systemd,
    container_socket: Option<PathBuf>,
    stack: StackConfig,
    alertmanager: Option<String>,
    prometheus: Option<String>,
    runbooks: Option<PathBuf>,
    docs_repository: Option<Arc<docs_sync::DocsRepository>>,
    http: reqwest::Client,
    home_assistant: Option<home_assistant::HomeAssistant>,
    kubernetes: Option<kubernetes::Kubernetes>,
    argocd: Option<argocd::ArgoCd>,
    vault: Option<vault::Vault>,
    forge: Option<forge::Forge>,
    web: Option<web::Web>,
    validators: Vec<(ToolName, jsonschema::Validator)>,
}

impl Tools {
    /// Reads Home Assistant's token and TLS files when it is configured.
    pub async fn new(config: &Config) -> Result<Arc<Self>, ConfigError> {
        let home_assistant = match &config.home_assistant {
            Some(ha) => Some(home_assistant::HomeAssistant::new(ha).await?),
            None => None,
        };
        let kubernetes = match &config.kubernetes {
            Some(k8s) => Some(kubernetes::Kubernetes::new(k8s)?),
            None => None,
        };
        let argocd = match &config.argocd {
            Some(argo) => Some(argocd::ArgoCd::new(argo)?),
            None => None,
        };
        let vault = match &config.vault {
            Some(v) => Some(vault::Vault::new(v)?),
            None => None,
        };
        let forge = match &config.forge {
            Some(f) => Some(forge::Forge::new(f)?),
            None => None,
        };
        let web = match &config.web {
            Some(w) => Some(web::Web::new(w)?),
            None => None,
        };
        let mut available: Vec<ToolName> = ToolName::ALL.to_vec();
        if web.is_some() {
            available.push(ToolName::WebFetch);
        }
        if let Some(forge) = &forge {
            available.extend(
                ToolName::FORGE
                    .into_iter()
                    .filter(|t| *t != ToolName::ForgeDraftPr),
            );
            if !forge.draft_repositories().is_empty() {
                available.push(ToolName::ForgeDraftPr);
            }
        }
        if vault.is_some() {
            available.extend(ToolName::VAULT);
        }
        if argocd.is_some() {
            available.extend(ToolName::ARGOCD);
        }
        if kubernetes.is_some() {
            available.extend(ToolName::KUBERNETES);
        }
        if let Some(ha) = &home_assistant {
            available.push(ToolName::HaEntities);
            if !ha.actions.is_empty() {
                available.extend([ToolName::HaLightOn, ToolName::HaLightOff]);
            }
        }
        let enabled = match &config.tools {
            // In the operator's order; a Home Assistant tool only when it
            // is configured.
            Some(listed) => listed
                .iter()
                .copied()
                .filter(|t| available.contains(t))
                .collect(),
            None => available,
        };
        let mut tools = Self {
            enabled,
            systemd: systemd::Systemd {
                address: config.systemd.bus.clone(),
            },
            container_socket: config.containers.socket.clone(),
            stack: config.stack.clone(),
            alertmanager: config.alerts.alertmanager_url.clone(),
            prometheus: config.alerts.prometheus_url.clone(),
            runbooks: config.runbooks.clone(),
            docs_repository: match &config.docs_repository {
                Some(repo) => Some(Arc::new(docs_sync::DocsRepository::new(
                    repo,
                    &config.state_directory,
                )?)),
                None => None,
            },
            http: hwc_ai_runtime::client::build(
                hwc_ai_runtime::client::builder("assistant"),
                "tools",
            )?,
            home_assistant,
            kubernetes,
            argocd,
            vault,
            forge,
            web,
            validators: Vec::new(),
        };
        tools.validators = ToolName::ALL
            .into_iter()
            .chain(ToolName::HOME_ASSISTANT)
            .chain(ToolName::KUBERNETES)
            .chain(ToolName::ARGOCD)
            .chain(ToolName::VAULT)
            .chain(ToolName::FORGE)
            .chain([ToolName::WebFetch])
            .map(|t| {
                let schema = tools.parameters(t);
                (
                    t,
                    jsonschema::validator_for(&schema).expect("the tools' own schemas compile"),
                )
            })
            .collect();
        Ok(Arc::new(tools))
    }

    /// A tool's argument schema, with the allowed lights filled in.
    pub fn parameters(&self, tool: ToolName) -> Value {
        match tool {
            ToolName::HaLightOn | ToolName::HaLightOff => lights_schema(
                tool,
                self.home_assistant
                    .as_ref()
                    .map_or(&[][..], |ha| &ha.actions),
            ),
            ToolName::ForgeDraftPr => self
                .forge
                .as_ref()
                .map_or_else(|| tool.parameters(), |f| f.draft_parameters()),
            other => other.parameters(),
        }
    }

    /// Whether `tool` changes something (the Home Assistant lights, a
    /// draft pull request).
    pub fn is_action(tool: ToolName) -> bool {
        matches!(
            tool,
            ToolName::HaLightOn | ToolName::HaLightOff | ToolName::ForgeDraftPr
        )
    }

    /// The docs repository to keep in sync, when one is configured.
    pub fn docs_repository(&self) -> Option<Arc<docs_sync::DocsRepository>> {
        self.docs_repository.clone()
    }

    /// Whether the assistant may propose draft pull requests.
    pub fn drafts_enabled(&self) -> bool {
        self.enabled.contains(&ToolName::ForgeDraftPr)
    }

    /// The lights actions may switch; empty when actions are off.
    pub fn allowed_lights(&self) -> &[String] {
        self.home_assistant
            .as_ref()
            .map_or(&[][..], |ha| &ha.actions)
    }

    /// Home Assistant, when it is configured.
    pub fn home_assistant(&self) -> Option<&home_assistant::HomeAssistant> {
        self.home_assistant.as_ref()
    }

    pub fn enabled(&self) -> &[ToolName] {
        &self.enabled
    }

    /// OpenAI-style tool definitions of the enabled tools.
    pub fn definitions(&self) -> Vec<Value> {
        self.enabled
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.as_str(),
                    "description": t.description(),
                    "parameters": self.parameters(*t),
                }})
            })
            .collect()
    }

    /// Runs `name` with `arguments` (checked against its schema first);
    /// the answer is bounded to [`MAX_OUTPUT`].
    pub async fn call(&self, name: &str, arguments: &Value) -> Result<Value, ToolError> {
        let tool = ToolName::parse(name).ok_or_else(|| ToolError::Unknown(name.to_owned()))?;
        if !self.enabled.contains(&tool) {
            return Err(ToolError::Disabled(name.to_owned()));
        }
        let arguments = if arguments.is_null() {
            json!({})
        } else {
            arguments.clone()
        };
        let validator = &self
            .validators
            .iter()
            .find(|(t, _)| *t == tool)
            .expect("every tool")
            .1;
        if let Some(error) = validator.iter_errors(&arguments).next() {
            let at = error.instance_path().to_string();
            return Err(ToolError::InvalidArguments(if at.is_empty() {
                error.to_string()
            } else {
                format!("{at}: {error}")
            }));
        }
        let a = &arguments;
        let value = match tool {
            ToolName::SystemOverview => system::overview().await,
            ToolName::DiskUsage => system::disks(a["mount"].as_str()),
            ToolName::Services => {
                let names: Vec<String> = a["names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect();
                let filter =
                    a["filter"]
                        .as_str()
                        .unwrap_or(if names.is_empty() { "all" } else { "named" });
                self.systemd.services(filter, &names).await
            }
            ToolName::RecentFailures => {
                let hours = a["hours"].as_f64().unwrap_or(24.0);
                self.systemd
                    .recent_failures(Duration::from_secs_f64(hours * 3600.0))
                    .await
            }
            ToolName::Containers => {
                containers::containers(
                    self.container_socket.as_deref(),
                    a["all"].as_bool().unwrap_or(true),
                )
                .await
            }
            ToolName::AiStack => stack::ai_stack(&self.http, &self.stack).await,
            ToolName::Alerts => {
                stack::alerts(
                    &self.http,
                    self.alertmanager.as_deref(),
                    self.prometheus.as_deref(),
                )
                .await
            }
            ToolName::DocsSearch => docs::docs(
                self.runbooks.as_deref(),
                self.docs_repository.as_ref().map(|r| r.checkout()),
                a["query"].as_str(),
                a["file"].as_str(),
            ),
            ToolName::HaEntities | ToolName::HaLightOn | ToolName::HaLightOff => {
                let ha = self.home_assistant.as_ref().ok_or_else(|| {
                    ToolError::Unavailable("Home Assistant is not configured".into())
                })?;
                match tool {
                    ToolName::HaEntities => {
                        ha.entities(a["domain"].as_str(), a["area"].as_str()).await
                    }
                    _ => {
                        let entity = a["entity"].as_str().unwrap_or_default();
                        let settings = home_assistant::Settings::parse(a)
                            .map_err(ToolError::InvalidArguments)?;
                        ha.switch(entity, tool == ToolName::HaLightOn, &settings)
                            .await
                    }
                }
            }
            ToolName::VaultStatus
            | ToolName::VaultMounts
            | ToolName::VaultPolicies
            | ToolName::VaultKvKeys => {
                let vault = self
                    .vault
                    .as_ref()
                    .ok_or_else(|| ToolError::Unavailable("Vault is not configured".into()))?;
                vault.call(tool, a).await
            }
            ToolName::WebFetch => {
                let web = self
                    .web
                    .as_ref()
                    .ok_or_else(|| ToolError::Unavailable("web_fetch is off".into()))?;
                web.fetch(a["url"].as_str().unwrap_or_default()).await
            }
            ToolName::ForgeRepos
            | ToolName::ForgeIssues
            | ToolName::ForgePulls
            | ToolName::ForgePull
            | ToolName::ForgeFile
            | ToolName::ForgeDraftPr => {
                let forge = self
                    .forge
                    .as_ref()
                    .ok_or_else(|| ToolError::Unavailable("no forge is configured".into()))?;
                forge.call(tool, a).await
            }
            ToolName::ArgocdApps | ToolName::ArgocdApp => {
                let argocd = self
                    .argocd
                    .as_ref()
                    .ok_or_else(|| ToolError::Unavailable("Argo CD is not configured".into()))?;
                argocd.call(tool, a).await
            }
            k8s => {
                let kubernetes = self
                    .kubernetes
                    .as_ref()
                    .ok_or_else(|| ToolError::Unavailable("Kubernetes is not configured".into()))?;
                kubernetes.call(k8s, a).await
            }
        }?;
        Ok(bound(value))
    }
}

/// A value whose JSON exceeds [`MAX_OUTPUT`] is replaced by its cut text.
pub fn bound(value: Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_OUTPUT {
        return value;
    }
    let mut end = MAX_OUTPUT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    json!({"truncated": true, "partialJson": &text[..end]})
}
