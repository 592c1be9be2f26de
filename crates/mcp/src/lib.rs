//! hwc-ai-mcp: finds, health-checks and serves the declared MCP servers
//! behind auth, and bridges their tools to OpenAPI for Open WebUI.
//!
//! `hwc-ai-mcp wrap` is the other half: it serves one stdio server on a
//! unix socket, so each server can run in its own sandboxed unit.

pub mod config;
pub mod gateway;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod proxy;
pub mod upstream;
pub mod wrap;

pub use config::Config;

/// Runs the gateway until `ctx.shutdown` (the systemd unit and `hwc-ai up`
/// both come here).
pub async fn run(config: Config, ctx: hwc_ai_runtime::Context) -> anyhow::Result<()> {
    use hwc_ai_runtime::Daemon;
    gateway::Gateway::run(config, ctx).await
}
