//! The assistant's config document (see docs/assistant.md).

use std::path::PathBuf;
use std::time::Duration;

use hwc_ai_runtime::auth::ClientsConfig;
use hwc_ai_runtime::config::{check_listen, check_origins, check_positive};
use hwc_ai_runtime::{Common, ConfigError, LogConfig, SecretSource, Validate};
use serde::Deserialize;

use crate::tools::ToolName;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub clients: ClientsConfig,
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Browser origins allowed to call the tool server (CORS).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where the audit log and the sessions live.
    pub state_directory: PathBuf,
    #[serde(default)]
    pub router: RouterConfig,
    #[serde(default)]
    pub agent: AgentConfig,
    #[serde(default)]
    pub sessions: SessionsConfig,
    /// The tools offered; all of them when absent.
    #[serde(default)]
    pub tools: Option<Vec<ToolName>>,
    #[serde(default)]
    pub systemd: SystemdConfig,
    #[serde(default)]
    pub containers: ContainersConfig,
    #[serde(default)]
    pub stack: StackConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// A directory of Markdown runbooks for `docs_search`.
    #[serde(default)]
    pub runbooks: Option<PathBuf>,
    /// A git repository of runbooks kept in sync, for `docs_search` too.
    #[serde(default)]
    pub docs_repository: Option<DocsRepositoryConfig>,
    /// Home Assistant: off unless set.
    #[serde(default)]
    pub home_assistant: Option<HomeAssistantConfig>,
    /// The Kubernetes tools (read-only): off unless set.
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
    /// The Argo CD tools (read-only): off unless set.
    #[serde(default)]
    pub argocd: Option<ArgoCdConfig>,
    /// The Vault tools (metadata only): off unless set.
    #[serde(default)]
    pub vault: Option<VaultConfig>,
    /// The forge tools (Gitea or Forgejo; read-only, plus opt-in draft
    /// pull requests): off unless set.
    #[serde(default)]
    pub forge: Option<ForgeConfig>,
    /// `web_fetch`, from the listed hosts only: off unless set.
    #[serde(default)]
    pub web: Option<WebConfig>,
    /// The operator's prompts, replacing the built-in ones.
    #[serde(default)]
    pub prompts: crate::prompts::PromptsConfig,
    /// The gRPC API (`ai.v1.AIService`): off unless set.
    #[serde(default)]
    pub grpc: Option<GrpcConfig>,
    /// OpenTelemetry traces of every query: off unless set.
    #[serde(default)]
    pub tracing: Option<TracingConfig>,
    /// Local workflows, by name (docs/workflows.md).
    #[serde(default)]
    pub workflows: std::collections::BTreeMap<String, crate::workflows::Workflow>,
    /// The MCP gateway, for workflows' `mcpTools`.
    #[serde(default)]
    pub mcp: crate::workflows::mcp::GatewayConfig,
}

/// Where the traces go (the runtime's `tracing` section, which every
/// daemon takes).
pub use hwc_ai_runtime::otel::TracingConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcConfig {
    #[serde(default = "default_grpc_listen")]
    pub listen: String,
}

/// The ai-gateway plan's port, on loopback: chat bots usually run on the
/// same machine, and opening it to the network is the operator's choice.
fn default_grpc_listen() -> String {
    "127.0.0.1:50052".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HomeAssistantConfig {
    pub url: url::Url,
    /// A long-lived access token.
    pub token: SecretSource,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub actions: ActionsConfig,
}

/// Home Assistant's `tls`: the runtime's TLS config (`caFile`, read as
/// `ca` too); `serverName` is read here, `insecureSkipVerify` is not.
pub use hwc_ai_runtime::client::TlsConfig;

/// What Home Assistant's `tls` may use beyond the CA and a client
/// certificate.
pub const TLS_ALLOWS: hwc_ai_runtime::client::TlsAllows = hwc_ai_runtime::client::TlsAllows {
    server_name: true,
    insecure_skip_verify: false,
};

/// A Kubernetes API server, read with a read-only token.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesConfig {
    /// The API server, e.g. `https://10.0.0.2:6443`.
    pub url: url::Url,
    /// A service account token allowed to get/list what the tools read.
    pub token: SecretSource,
    /// The cluster's CA (PEM), trusted besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long one request may take.
    #[serde(default = "default_service_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// An Argo CD server, read with a read-only token: the same fields
/// (`url`, `token`, `caFile`, `timeout`).
pub type ArgoCdConfig = KubernetesConfig;

/// A Vault server, its metadata read with a token: the same fields.
pub type VaultConfig = KubernetesConfig;

/// A Gitea or Forgejo forge, read with a token; `drafts` lets the
/// assistant propose changes as draft pull requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgeConfig {
    /// The forge's base URL, e.g. `https://git.lan` (the API is under
    /// `/api/v1`).
    pub url: url::Url,
    /// An access token (`Authorization: token ...`).
    pub token: SecretSource,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_service_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The one write: off unless enabled, and only to `repositories`.
    #[serde(default)]
    pub drafts: DraftsConfig,
}

/// A git repository of Markdown runbooks, fetched on an interval.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocsRepositoryConfig {
    /// An http(s) or file URL git fetches from.
    pub url: String,
    #[serde(default = "default_docs_branch")]
    pub branch: String,
    #[serde(default = "default_docs_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// A token for a private repository (HTTP basic credentials).
    #[serde(default)]
    pub token: Option<SecretSource>,
    #[serde(default = "default_git")]
    pub git: PathBuf,
}

fn default_docs_branch() -> String {
    "main".into()
}

/// Runbooks change a few times a week; a quarter of an hour keeps an
/// edit close to what the assistant reads without a fetch a minute.
fn default_docs_interval() -> Duration {
    Duration::from_secs(15 * 60)
}

/// The hosts `web_fetch` may read pages from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebConfig {
    /// `docs.k3s.io`, `*.nixos.org` (its subdomains), `10.0.0.7:8080`
    /// (that port only; without one, the scheme's own port).
    pub hosts: Vec<String>,
    /// Fetch `http://` pages too (of the same hosts).
    #[serde(default)]
    pub allow_http: bool,
    /// The whole fetch, redirects and body included.
    #[serde(default = "default_service_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Draft pull requests (`forge_draft_pr`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftsConfig {
    #[serde(default)]
    pub enable: bool,
    /// The only repositories it may propose changes to (`owner/name`).
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Where git pushes the branch, `{repo}` standing for `owner/name`;
    /// `<url>/{repo}.git` when unset.
    #[serde(default)]
    pub git_url: Option<String>,
    /// The git program.
    #[serde(default = "default_git")]
    pub git: PathBuf,
    /// The most bytes of new file content one draft may carry.
    #[serde(default = "default_draft_bytes")]
    pub max_bytes: usize,
}

impl Default for DraftsConfig {
    fn default() -> Self {
        Self {
            enable: false,
            repositories: Vec::new(),
            git_url: None,
            git: default_git(),
            max_bytes: default_draft_bytes(),
        }
    }
}

/// From `PATH`; the NixOS module sets the store path.
fn default_git() -> PathBuf {
    "git".into()
}

/// A change a person reviews in one sitting: a few files of code or
/// documentation, not a vendored library.
fn default_draft_bytes() -> usize {
    64 * 1024
}

impl ForgeConfig {
    fn check(&self) -> Result<(), ConfigError> {
        KubernetesConfig {
            url: self.url.clone(),
            token: self.token.clone(),
            ca_file: self.ca_file.clone(),
            timeout: self.timeout,
        }
        .check("forge")?;
        let drafts = &self.drafts;
        for (i, repo) in drafts.repositories.iter().enumerate() {
            if !crate::tools::forge::is_repo(repo) {
                return Err(ConfigError::at(
                    format!("forge.drafts.repositories[{i}]"),
                    format!("`{repo}` is not `owner/name`"),
                ));
            }
        }
        if drafts.enable && drafts.repositories.is_empty() {
            return Err(ConfigError::at(
                "forge.drafts.repositories",
                "drafts are enabled but no repository is named",
            ));
        }
        if let Some(git_url) = &drafts.git_url {
            if !git_url.contains("{repo}") {
                return Err(ConfigError::at(
                    "forge.drafts.gitUrl",
                    format!("`{git_url}` has no `{{repo}}`"),
                ));
            }
            let ok = url::Url::parse(&git_url.replace("{repo}", "o/r"))
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "file"));
            if !ok {
                return Err(ConfigError::at(
                    "forge.drafts.gitUrl",
                    format!("`{git_url}` is not an http(s) or file URL"),
                ));
            }
        }
        if drafts.max_bytes == 0 {
            return Err(ConfigError::at(
                "forge.drafts.maxBytes",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

impl KubernetesConfig {
    /// Shape checks; `at` is the section (`kubernetes`, `argocd`).
    fn check(&self, at: &str) -> Result<(), ConfigError> {
        if !matches!(self.url.scheme(), "http" | "https") {
            return Err(ConfigError::at(
                format!("{at}.url"),
                format!("`{}` is not an http(s) URL", self.url),
            ));
        }
        self.token.check(&format!("{at}.token"))?;
        if let Some(file) = self.ca_file.as_ref().filter(|f| !f.is_absolute()) {
            return Err(ConfigError::at(
                format!("{at}.caFile"),
                format!("`{}` is not an absolute path", file.display()),
            ));
        }
        check_positive(&format!("{at}.timeout"), self.timeout)
    }
}

/// An API server on the LAN answers a list in well under a second; ten
/// is a stuck one, and leaves most of the agent's budget to the rest.
fn default_service_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionsConfig {
    /// Let the assistant switch lights: off by default.
    #[serde(default)]
    pub enable: bool,
    /// The only entities it may switch (`light.kitchen`; lights, switches,
    /// fans and input booleans).
    #[serde(default)]
    pub entities: Vec<String>,
}

fn default_listen() -> String {
    hwc_ai_runtime::daemons::ASSISTANT.listen.into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per minute per client.
    #[serde(default = "default_per_minute")]
    pub requests_per_minute: u32,
    /// Requests a client may make at once before the rate applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests_per_minute: default_per_minute(),
            burst: default_burst(),
        }
    }
}

/// A person asks a few questions a minute; a bot polling status a few
/// more. Each question may run several tools and a model.
fn default_per_minute() -> u32 {
    30
}

fn default_burst() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouterConfig {
    /// hwc-ai-router's (or any OpenAI-compatible) base URL, without `/v1`.
    #[serde(default = "default_router_url")]
    pub url: String,
    /// The model or router profile to ask; it must support tool calls.
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default)]
    pub api_key: Option<SecretSource>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            url: default_router_url(),
            model: default_model(),
            api_key: None,
        }
    }
}

fn default_router_url() -> String {
    hwc_ai_runtime::daemons::ROUTER.url.into()
}

fn default_model() -> String {
    "assistant".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// Model turns per request (each may call several tools).
    #[serde(default = "default_rounds")]
    pub max_rounds: u32,
    /// The whole request's time, model and tools together.
    #[serde(default = "default_budget", with = "humantime_serde")]
    pub budget: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_rounds: default_rounds(),
            budget: default_budget(),
        }
    }
}

fn default_rounds() -> u32 {
    4
}

fn default_budget() -> Duration {
    Duration::from_secs(90)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsConfig {
    #[serde(default = "default_idle", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Turns kept besides the first.
    #[serde(default = "default_keep")]
    pub keep_last: u32,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            idle_timeout: default_idle(),
            keep_last: default_keep(),
        }
    }
}

fn default_idle() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_keep() -> u32 {
    10
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemdConfig {
    /// A D-Bus address; the system bus when absent.
    #[serde(default)]
    pub bus: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainersConfig {
    /// The Docker (or Podman) API socket, e.g. /run/docker.sock.
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StackConfig {
    #[serde(default = "default_prober")]
    pub prober_url: String,
    #[serde(default = "default_puller")]
    pub puller_url: String,
    #[serde(default = "default_router_url")]
    pub router_url: String,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            prober_url: default_prober(),
            puller_url: default_puller(),
            router_url: default_router_url(),
        }
    }
}

fn default_prober() -> String {
    hwc_ai_runtime::daemons::PROBER.url.into()
}

fn default_puller() -> String {
    hwc_ai_runtime::daemons::PULLER.url.into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(default)]
    pub alertmanager_url: Option<String>,
    #[serde(default)]
    pub prometheus_url: Option<String>,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        check_listen("listen", &self.listen)?;
        // Read and checked here, so `--check-config` (the NixOS build)
        // catches a prompt without its placeholders.
        crate::prompts::Prompts::load(&self.prompts)?;
        if let Some(grpc) = &self.grpc {
            check_listen("grpc.listen", &grpc.listen)?;
            if grpc.listen == self.listen {
                return Err(ConfigError::at(
                    "grpc.listen",
                    format!(
                        "`{}` is also `listen`: gRPC needs its own port",
                        grpc.listen
                    ),
                ));
            }
        }
        if let Some(tracing) = &self.tracing {
            tracing.check("tracing")?;
        }
        self.clients.check("clients", "assistant")?;
        check_origins("allowedOrigins", &self.allowed_origins)?;
        if self.rate_limit.requests_per_minute == 0 || self.rate_limit.burst == 0 {
            return Err(ConfigError::at(
                "rateLimit",
                "requestsPerMinute and burst must be at least 1",
            ));
        }
        if let Some(tls) = self.home_assistant.as_ref().and_then(|h| h.tls.as_ref()) {
            tls.check("homeAssistant.tls", TLS_ALLOWS)?;
        }
        if let Some(ha) = &self.home_assistant {
            for (i, entity) in ha.actions.entities.iter().enumerate() {
                let domain = entity.split('.').next().unwrap_or_default();
                let switchable = crate::tools::home_assistant::SWITCHABLE;
                if !crate::intents::is_entity_id(entity) || !switchable.contains(&domain) {
                    return Err(ConfigError::at(
                        format!("homeAssistant.actions.entities[{i}]"),
                        format!(
                            "`{entity}` is not an entity id of a domain that can be switched ({})",
                            switchable.join(", ")
                        ),
                    ));
                }
            }
        }
        if !self.state_directory.is_absolute() {
            return Err(ConfigError::at(
                "stateDirectory",
                format!(
                    "`{}` is not an absolute path",
                    self.state_directory.display()
                ),
            ));
        }
        for (path, url) in [
            ("router.url", Some(&self.router.url)),
            ("stack.proberUrl", Some(&self.stack.prober_url)),
            ("stack.pullerUrl", Some(&self.stack.puller_url)),
            ("stack.routerUrl", Some(&self.stack.router_url)),
            (
                "alerts.alertmanagerUrl",
                self.alerts.alertmanager_url.as_ref(),
            ),
            ("alerts.prometheusUrl", self.alerts.prometheus_url.as_ref()),
        ] {
            if let Some(url) = url {
                let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    return Err(ConfigError::at(
                        path,
                        format!("`{url}` is not an http(s) URL"),
                    ));
                }
            }
        }
        if let Some(key) = &self.router.api_key {
            key.check("router.apiKey")?;
        }
        self.mcp.check("mcp")?;
        if let Some(k8s) = &self.kubernetes {
            k8s.check("kubernetes")?;
        }
        if let Some(argo) = &self.argocd {
            argo.check("argocd")?;
        }
        if let Some(vault) = &self.vault {
            vault.check("vault")?;
        }
        if let Some(forge) = &self.forge {
            forge.check()?;
        }
        if let Some(repo) = &self.docs_repository {
            let ok = url::Url::parse(&repo.url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "file"));
            if !ok {
                return Err(ConfigError::at(
                    "docsRepository.url",
                    format!("`{}` is not an http(s) or file URL", repo.url),
                ));
            }
            let branch_ok = !repo.branch.is_empty()
                && !repo.branch.contains("..")
                && !repo.branch.starts_with(['-', '/', '.'])
                && repo
                    .branch
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b));
            if !branch_ok {
                return Err(ConfigError::at(
                    "docsRepository.branch",
                    format!("`{}` is not a branch name", repo.branch),
                ));
            }
            if let Some(token) = &repo.token {
                token.check("docsRepository.token")?;
            }
            check_positive("docsRepository.interval", repo.interval)?;
        }
        if let Some(web) = &self.web {
            if web.hosts.is_empty() {
                return Err(ConfigError::at("web.hosts", "name at least one host"));
            }
            for (i, host) in web.hosts.iter().enumerate() {
                if !crate::tools::web::is_host_entry(host) {
                    return Err(ConfigError::at(
                        format!("web.hosts[{i}]"),
                        format!("`{host}` is not a host name (lower case, `*.` for subdomains, `:port` optional)"),
                    ));
                }
            }
            check_positive("web.timeout", web.timeout)?;
        }
        if self.agent.max_rounds == 0 {
            return Err(ConfigError::at("agent.maxRounds", "must be at least 1"));
        }
        check_positive("agent.budget", self.agent.budget)?;
        check_positive("sessions.idleTimeout", self.sessions.idle_timeout)?;
        for (field, path) in [
            ("containers.socket", &self.containers.socket),
            ("runbooks", &self.runbooks),
        ] {
            if let Some(path) = path {
                if !path.is_absolute() {
                    return Err(ConfigError::at(
                        field,
                        format!("`{}` is not an absolute path", path.display()),
                    ));
                }
            }
        }
        for (name, workflow) in &self.workflows {
            let at = format!("workflows.{name}");
            workflow.check(&at, name)?;
            for (i, tool) in workflow.tools.iter().enumerate() {
                let enabled = self.tools.as_ref().is_none_or(|t| t.contains(tool));
                if !enabled || crate::tools::Tools::is_action(*tool) {
                    return Err(ConfigError::at(
                        format!("{at}.tools[{i}]"),
                        format!(
                            "`{}` is not one of the assistant's enabled read-only tools",
                            tool.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Common for Config {
    fn listen(&self) -> &str {
        &self.listen
    }
    fn log(&self) -> &LogConfig {
        &self.log
    }
    fn tracing(&self) -> Option<&TracingConfig> {
        self.tracing.as_ref()
    }
}
