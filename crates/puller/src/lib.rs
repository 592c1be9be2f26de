//! hwc-ai-puller: makes the models an operator declares real in Ollama,
//! proves each one answers, keeps them current, and never fills the disk.
//!
//! [`run`] is the daemon; `main.rs` hands it to the shared runtime (or runs
//! [`once`] for `--once`), and `hwc-ai up` calls it directly. The command
//! line's `hwc-ai models sync` drives a [`Puller`] itself when no daemon
//! answers, reading progress from [`Puller::snapshot`].

pub mod api;
pub mod config;
pub mod disk;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod name;
pub mod ollama;
pub mod report;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hwc_ai_runtime::http;
use hwc_ai_runtime::notify::Notifier;
use hwc_ai_runtime::{Context, Daemon, Shutdown};

pub use config::Config;
pub use engine::{Options, Outcome, Puller, Request};
pub use report::{HealthDoc, ModelState, ModelsDoc};

/// The puller as a [`Daemon`].
pub struct PullerDaemon;

impl Daemon for PullerDaemon {
    const NAME: &'static str = "puller";
    type Config = Config;

    async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
        run(config, ctx).await
    }
}

/// Runs the puller until `ctx.shutdown`.
pub async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
    run_with(config, ctx, Options::default()).await
}

/// [`run`] with the world swapped (tests measure a fake disk).
pub async fn run_with(config: Config, ctx: Context, options: Options) -> anyhow::Result<()> {
    let mut registry = hwc_ai_runtime::metrics::registry(PullerDaemon::NAME);
    let listen = config.listen.clone();
    let declared = config.models.len();
    let puller = Puller::new(config, options, ctx.notify.clone(), Some(&mut registry))?;
    let listener = http::listener(ctx.listener, &listen).await?;
    let address = listener.local_addr()?;
    let app = http::metrics_routes(Arc::new(registry)).merge(api::routes(puller.clone()));
    tokio::spawn(puller.clone().schedule(ctx.shutdown.clone()));
    spawn_sighup(puller.clone(), ctx.shutdown.clone());
    tracing::info!("listening on http://{address}; {declared} models declared");
    ctx.notify.ready(&puller.summary());
    http::serve(listener, app, ctx.shutdown, http::DEFAULT_DRAIN).await
}

/// SIGHUP: reconcile now, retrying failed models without waiting out their
/// backoff.
fn spawn_sighup(puller: Arc<Puller>, shutdown: Shutdown) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(hup) => hup,
        Err(err) => {
            tracing::warn!("cannot listen for SIGHUP: {err}");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hup.recv() => {}
                _ = shutdown.wait() => return,
            }
            tracing::info!("SIGHUP received: reconciling now");
            let puller = puller.clone();
            tokio::spawn(async move {
                puller
                    .reconcile(Request {
                        force: true,
                        ..Request::default()
                    })
                    .await
            });
        }
    });
}

/// One reconcile for scripts (`--once`): waits up to `wait_for_ollama` for
/// Ollama, then makes every declared model present and valid. The document
/// says how it ended; [`ModelsDoc::all_ready`] is the exit status.
pub async fn once(
    config: Config,
    options: Options,
    shutdown: Shutdown,
    wait_for_ollama: Duration,
) -> anyhow::Result<ModelsDoc> {
    let puller = Puller::new(config, options, Notifier::disabled(), None)?;
    let deadline = Instant::now() + wait_for_ollama;
    if !puller.wait_for_ollama(&shutdown, Some(deadline)).await {
        if shutdown.is_triggered() {
            anyhow::bail!("stopped while waiting for Ollama");
        }
        return Ok(puller.snapshot());
    }
    tokio::select! {
        _ = puller.reconcile(Request { force: true, ..Request::default() }) => {}
        _ = shutdown.wait() => anyhow::bail!("stopped during the reconcile"),
    }
    Ok(puller.snapshot())
}
