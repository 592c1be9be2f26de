//! The daemon: opens the audit log and the sessions in the state
//! directory, reads the keys, serves until SIGTERM.

use std::sync::Arc;

use hwc_ai_runtime::{http, Context, Daemon};

use crate::api::{self, Limiter, Shared};
use crate::audit::Audit;
use crate::config::Config;
use crate::engine::Engine;
use crate::sessions::Sessions;
use crate::tools::Tools;
use crate::workflows::Workflows;

pub struct Assistant;

impl Daemon for Assistant {
    const NAME: &'static str = "assistant";
    type Config = Config;

    async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
        run(config, ctx).await
    }
}

/// Runs the assistant until `ctx.shutdown`.
pub async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
    let clients = config.clients.load("clients")?;
    let router_key = match &config.router.api_key {
        Some(source) => Some(source.read("router.apiKey")?),
        None => None,
    };
    let dir = &config.state_directory;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the state directory {}: {e}", dir.display()))?;
    let audit = Arc::new(Audit::open(&dir.join("audit.db"))?);
    let sessions = Sessions::open(
        &dir.join("sessions.db"),
        config.sessions.idle_timeout,
        config.sessions.keep_last as usize,
    )?;
    let tools = Tools::new(&config).await?;
    if let Some(repository) = tools.docs_repository() {
        let shutdown = ctx.shutdown.clone();
        tokio::spawn(async move { repository.keep_in_sync(shutdown).await });
    }
    let mut registry = hwc_ai_runtime::metrics::registry(Assistant::NAME);
    let metrics = Arc::new(crate::metrics::Metrics::register(
        registry.sub_registry_with_prefix("hwc_ai_assistant"),
    ));
    let engine = Engine::new(
        tools,
        audit,
        config.router.clone(),
        router_key,
        config.agent.clone(),
        metrics,
    )?
    .with_prompts(crate::prompts::Prompts::load(&config.prompts)?);
    let shared = Arc::new(Shared {
        engine,
        sessions,
        clients,
        limiter: Limiter::new(config.rate_limit.clone()),
        workflows: Workflows::new(config.workflows.clone(), dir.join("workflows"), &config.mcp)?,
    });
    let registry = Arc::new(registry);
    let listener = http::listener(ctx.listener, &config.listen).await?;
    // Bound before READY, so a caller started after the unit finds it.
    let grpc = match &config.grpc {
        Some(grpc) => Some((
            tokio::net::TcpListener::bind(&grpc.listen)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot listen on {} (grpc.listen): {e}", grpc.listen)
                })?,
            grpc.listen.clone(),
        )),
        None => None,
    };
    match &grpc {
        Some((_, at)) => {
            ctx.notify
                .ready(&format!("answering on {} and gRPC on {at}", config.listen));
            tracing::info!(listen = %config.listen, grpc = %at, "ready");
        }
        None => {
            ctx.notify.ready(&format!("answering on {}", config.listen));
            tracing::info!(listen = %config.listen, "ready");
        }
    }
    let http = http::serve(
        listener,
        api::app(shared.clone(), registry, &config.allowed_origins),
        ctx.shutdown.clone(),
        http::DEFAULT_DRAIN,
    );
    match grpc {
        Some((listener, _)) => {
            let grpc = crate::grpc::serve(listener, shared, ctx.shutdown, http::DEFAULT_DRAIN);
            // Either failing stops the daemon (systemd restarts it whole).
            tokio::try_join!(http, grpc).map(|_| ())
        }
        None => http.await,
    }
}
