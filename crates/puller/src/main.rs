//! `hwc-ai-puller --config PATH [--check-config | --once]`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use hwc_ai_puller::{Config, Options, PullerDaemon};
use hwc_ai_runtime::daemon::{self, DaemonArgs};
use hwc_ai_runtime::{Common, Daemon, Shutdown};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Reconcile once and exit: 0 when every declared model is present and
    /// valid, 1 when not (the reasons are logged), 78 for a bad config.
    #[arg(long, conflicts_with = "check_config")]
    once: bool,
    /// With --once: how long to wait for Ollama to answer.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = humantime::parse_duration)]
    wait_for_ollama: Duration,
}

fn main() -> ExitCode {
    let matches = Args::command()
        .name("hwc-ai-puller")
        .version(env!("CARGO_PKG_VERSION"))
        .get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    match daemon::load::<Config>(PullerDaemon::NAME, &args.daemon) {
        Ok(Some(config)) if args.once => once(config, args.wait_for_ollama),
        Ok(Some(config)) => daemon::serve::<PullerDaemon>(config),
        Ok(None) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// `--once`: one reconcile, a line per model on stdout, the verdict as the
/// exit status.
fn once(config: Config, wait: Duration) -> ExitCode {
    hwc_ai_runtime::logging::init(config.log());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("hwc-ai-puller: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let shutdown = Shutdown::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            hwc_ai_runtime::shutdown::signal().await;
            on_signal.trigger();
        });
        hwc_ai_puller::once(config, Options::default(), shutdown, wait).await
    });
    match result {
        Ok(doc) => {
            for m in doc.models.iter().filter(|m| m.declared) {
                let digest = m.digest.as_deref().map(hwc_ai_puller::engine::short);
                let detail = m.error.as_deref().unwrap_or("");
                println!(
                    "{}\t{}\t{}\t{}",
                    m.name,
                    m.state,
                    digest.as_deref().unwrap_or("-"),
                    detail
                );
            }
            if doc.ollama.reachable != Some(true) {
                eprintln!(
                    "hwc-ai-puller: Ollama at {} did not answer: {}",
                    doc.ollama.url,
                    doc.ollama.error.as_deref().unwrap_or("no answer")
                );
            }
            if doc.all_ready() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("hwc-ai-puller: {err:#}");
            ExitCode::FAILURE
        }
    }
}
