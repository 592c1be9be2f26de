//! `hwc-ai-ollama-fake`: the fake Ollama as a service, for VM checks and
//! benchmarks. State lives in memory; nothing is written to disk.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use hwc_ai_ollama_fake::{FakeOllama, PullSpeed, Scenario};

/// A fake of Ollama's HTTP API with injectable faults.
#[derive(Parser)]
#[command(name = "hwc-ai-ollama-fake", version)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:11434",
        env = "HWC_AI_OLLAMA_FAKE_LISTEN"
    )]
    listen: SocketAddr,

    /// Scenario file (JSON): catalog, preinstalled models, speed, faults.
    /// Without one, the built-in catalog and an empty store.
    #[arg(long, env = "HWC_AI_OLLAMA_FAKE_SCENARIO")]
    scenario: Option<PathBuf>,

    /// Validate the scenario and exit: 0 if usable, 1 with the reason.
    #[arg(long, requires = "scenario")]
    check_scenario: bool,
}

/// The binary's pull speed unless the scenario sets one: 512 KiB every
/// 50 ms (10 MiB/s), so the built-in models (1 to 6 MiB of weights) pull
/// in about a second with a progress line every 50 ms, like a real pull
/// seen through a slow link.
fn default_speed() -> PullSpeed {
    PullSpeed::Rate {
        bytes_per_tick: 512 << 10,
        tick: Duration::from_millis(50),
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not for the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let fake = match load(&args) {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("hwc-ai-ollama-fake: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if args.check_scenario {
        return std::process::ExitCode::SUCCESS;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(serve(fake, args.listen)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load(args: &Args) -> anyhow::Result<FakeOllama> {
    let scenario = match &args.scenario {
        Some(path) => {
            Scenario::from_file(path).with_context(|| format!("scenario {}", path.display()))?
        }
        None => Scenario::parse("{}")?,
    };
    let fake = scenario.build().context("scenario")?;
    if scenario.pull_speed.is_none() {
        fake.set_pull_speed(default_speed());
    }
    Ok(fake)
}

async fn serve(fake: FakeOllama, listen: SocketAddr) -> anyhow::Result<()> {
    let server = fake
        .spawn_on(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    tracing::info!(addr = %server.addr(), "listening");
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("serving on {}", server.addr())),
    ]);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("stopping");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    server.stop().await;
    Ok(())
}
