//! The process around a daemon: arguments, config, logging, runtime,
//! signals, sd-notify.
//!
//! A daemon crate implements [`Daemon`] and its `main.rs` is one line:
//! `hwc_ai_runtime::daemon::main::<Prober>()`. The same `run` is what the
//! all-in-one `hwc-ai up` calls, so one code path serves both.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use serde::de::DeserializeOwned;

use crate::config::{self, Common, ConfigError, Validate};
use crate::http;
use crate::notify::{self, Notifier};
use crate::shutdown::{self, Shutdown};

/// sysexits' EX_CONFIG: the config (or a secret it names) is unusable.
pub const EXIT_CONFIG: u8 = 78;

/// What a daemon gets from its host process.
pub struct Context {
    /// Triggered on SIGTERM/SIGINT (or by `hwc-ai up` on Ctrl-C).
    pub shutdown: Shutdown,
    /// READY/STATUS to systemd; disabled under `hwc-ai up`.
    pub notify: Notifier,
    /// A socket inherited from systemd (`LISTEN_FDS`), used instead of
    /// binding `listen` when present.
    pub listener: Option<std::net::TcpListener>,
}

impl Context {
    /// A context for running a daemon inside another program (tests,
    /// `hwc-ai up`): no systemd, no inherited socket.
    pub fn embedded(shutdown: Shutdown) -> Self {
        Self {
            shutdown,
            notify: Notifier::disabled(),
            listener: None,
        }
    }
}

/// One hwc-ai daemon.
pub trait Daemon {
    /// Short name: `prober` is binary and unit `hwc-ai-prober` and metrics
    /// `hwc_ai_prober_*`.
    const NAME: &'static str;
    type Config: DeserializeOwned + Validate + Common + Send + 'static;

    /// Runs until `ctx.shutdown`, then drains and returns. Sends READY only
    /// once its listener is bound.
    fn run(config: Self::Config, ctx: Context) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The arguments every daemon takes.
#[derive(Debug, Parser)]
pub struct DaemonArgs {
    /// The daemon's JSON config document.
    #[arg(long, value_name = "PATH", env = "HWC_AI_CONFIG")]
    pub config: PathBuf,
    /// Validate the config and exit: 0 when valid, 1 with the field named
    /// when not. Starts nothing and needs no secrets.
    #[arg(long)]
    pub check_config: bool,
}

impl DaemonArgs {
    /// Parses the process arguments under the daemon's binary name.
    pub fn parse_for(name: &str) -> Self {
        Self::parse_from_for(name, std::env::args_os())
    }

    /// Parses `args` (the program name first) under the command name
    /// `hwc-ai-{name}`, e.g. `mcp wrap` for a subcommand.
    pub fn parse_from_for<I, T>(name: &str, args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command()
            .name(format!("hwc-ai-{name}"))
            .version(env!("CARGO_PKG_VERSION"))
            .get_matches_from(args);
        Self::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
    }
}

/// The whole `main` of a daemon binary.
pub fn main<D: Daemon>() -> ExitCode {
    main_with::<D>(D::NAME, std::env::args_os())
}

/// `main` for a binary holding more than one daemon: `command` names this
/// one (`mcp wrap`), `args` are its arguments after the program name.
pub fn main_with<D: Daemon>(
    command: &str,
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> ExitCode {
    let args = DaemonArgs::parse_from_for(command, args);
    match load::<D::Config>(command, &args) {
        Ok(Some(config)) => serve::<D>(config),
        Ok(None) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Loads the config named by `args`. `Ok(None)` means `--check-config`
/// passed and the process should exit 0; errors have been printed.
pub fn load<C: DeserializeOwned + Validate>(
    name: &str,
    args: &DaemonArgs,
) -> Result<Option<C>, ExitCode> {
    let path = args.config.display();
    match config::load::<C>(&args.config) {
        Ok(_) if args.check_config => {
            println!("{path}: valid hwc-ai-{name} config");
            Ok(None)
        }
        Ok(config) => Ok(Some(config)),
        Err(err) if args.check_config => {
            eprintln!("{path}: {err}");
            Err(ExitCode::FAILURE)
        }
        Err(err) => {
            eprintln!("hwc-ai-{name}: invalid config {path}: {err}");
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

/// Runs a daemon as a service process until SIGTERM.
pub fn serve<D: Daemon>(config: D::Config) -> ExitCode {
    // With `tracing` set, the subscriber that also exports spans is
    // installed instead of the plain one, and flushed at the end.
    let traces = match config.tracing() {
        Some(tracing) => match crate::otel::install(D::NAME, config.log(), tracing) {
            Ok(traces) => Some(traces),
            Err(err) => {
                eprintln!("hwc-ai-{}: {err}", D::NAME);
                return ExitCode::FAILURE;
            }
        },
        None => {
            crate::logging::init(config.log());
            None
        }
    };
    let code = serve_logged::<D>(config);
    if let Some(traces) = traces {
        traces.shutdown();
    }
    code
}

fn serve_logged<D: Daemon>(config: D::Config) -> ExitCode {
    let inherited = match http::activated_listener() {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("cannot take the socket passed by systemd (LISTEN_FDS): {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let shutdown = Shutdown::new();
        let notifier = Notifier::systemd();
        notify::spawn_watchdog();
        let on_signal = (shutdown.clone(), notifier.clone());
        tokio::spawn(async move {
            let name = shutdown::signal().await;
            tracing::info!("{name} received: draining and stopping");
            on_signal.1.stopping();
            on_signal.0.trigger();
        });
        let ctx = Context {
            shutdown: shutdown.clone(),
            notify: notifier,
            listener: inherited,
        };
        // The daemon drains within its own bound; this is the backstop for a
        // task that ignores shutdown.
        let backstop = http::DEFAULT_DRAIN + std::time::Duration::from_secs(5);
        tokio::select! {
            result = D::run(config, ctx) => result,
            _ = async { shutdown.wait().await; tokio::time::sleep(backstop).await } => {
                tracing::error!("still running {backstop:?} after the stop request; exiting anyway");
                Ok(())
            }
        }
    });
    // Do not wait for detached tasks (alert retries, the watchdog).
    runtime.shutdown_background();
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!("{err:#}");
            if err.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Two workers: these daemons wait on the network, not the CPU, and each
/// worker costs memory. More cores do not make a prober faster.
fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}
