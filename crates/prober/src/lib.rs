//! hwc-ai-prober: probes every AI service on an interval, exports
//! Prometheus metrics, and makes every failure loud.
//!
//! [`run`] is the whole daemon; `main.rs` hands it to the shared runtime,
//! and `hwc-ai up` calls it directly.

pub mod alert;
pub mod check;
pub mod config;
pub mod health;
pub mod metrics;
pub mod schedule;
pub mod state;

use std::sync::Arc;

use hwc_ai_runtime::http;
use hwc_ai_runtime::{Context, Daemon};

pub use config::Config;

/// The prober as a [`Daemon`].
pub struct Prober;

impl Daemon for Prober {
    const NAME: &'static str = "prober";
    type Config = Config;

    async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
        run(config, ctx).await
    }
}

/// Runs the prober until `ctx.shutdown`.
pub async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
    let targets = check::build(&config)?;
    let mut registry = hwc_ai_runtime::metrics::registry(Prober::NAME);
    let metrics = Arc::new(metrics::Metrics::register(
        registry.sub_registry_with_prefix("hwc_ai_prober"),
    ));
    let alerter = alert::Alerter::start(
        &config.alerts.webhooks,
        metrics.clone(),
        ctx.shutdown.clone(),
    )?;
    let listener = http::listener(ctx.listener, &config.listen).await?;
    let address = listener.local_addr()?;

    let board = Arc::new(health::Board::new(
        &targets,
        &metrics,
        alerter,
        ctx.notify.clone(),
    ));
    let app = http::metrics_routes(Arc::new(registry)).merge(health::routes(board.clone()));
    schedule::start(
        targets,
        board.clone(),
        config.max_concurrent_probes,
        config.max_body_bytes,
        ctx.shutdown.clone(),
    );
    tracing::info!(
        "listening on http://{address}; probing {} targets",
        board.len()
    );
    ctx.notify.ready(&board.summary());
    http::serve(listener, app, ctx.shutdown, http::DEFAULT_DRAIN).await
}
