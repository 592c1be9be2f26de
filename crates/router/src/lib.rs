//! hwc-ai-router: one OpenAI-compatible endpoint in front of local and
//! cloud model backends. Routes map a requested model name to an ordered
//! list of targets; a target that fails before its first byte hands the
//! request to the next one; a target that keeps failing is skipped for a
//! cooldown.
//!
//! [`run`] is the whole daemon; `main.rs` hands it to the shared runtime,
//! and `hwc-ai up` calls it directly.

mod admission;
pub mod api;
mod attempt;
pub mod backend;
pub mod balance;
pub mod breaker;
pub mod config;
pub mod discovery;
pub mod error;
pub mod execute;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod profile;
pub mod proxy;
mod record;
pub mod redact;
mod relay;
pub mod schema;
pub mod status;
pub mod sticky;
pub mod table;

use std::sync::Arc;

use hwc_ai_runtime::http;
use hwc_ai_runtime::{Context, Daemon};

pub use config::Config;

/// The router as a [`Daemon`].
pub struct ModelRouter;

impl Daemon for ModelRouter {
    const NAME: &'static str = "router";
    type Config = Config;

    async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
        run(config, ctx).await
    }
}

/// Runs the router until `ctx.shutdown`.
pub async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
    let mut registry = hwc_ai_runtime::metrics::registry(ModelRouter::NAME);
    let metrics = metrics::Metrics::register(registry.sub_registry_with_prefix("hwc_ai_router"));
    // Secrets are read here, before the listener is bound: a missing key
    // file is a startup error that names its field.
    let table = Arc::new(table::Table::build(&config, metrics)?);
    discovery::first(&table).await;
    discovery::spawn(
        table.clone(),
        config.defaults.discover_interval,
        ctx.shutdown.clone(),
    );
    registry
        .sub_registry_with_prefix("hwc_ai_router")
        .register_collector(Box::new(status::Gauges::new(&table)));
    let listener = http::listener(ctx.listener, &config.listen).await?;
    let address = listener.local_addr()?;
    let app = http::metrics_routes(Arc::new(registry)).merge(api::routes(table.clone()));
    let summary = table.summary();
    tracing::info!("listening on http://{address}; {summary}");
    ctx.notify.ready(&summary);
    http::serve(listener, app, ctx.shutdown, http::DEFAULT_DRAIN).await
}
