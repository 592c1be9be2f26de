//! The async runtime a command's requests run on.
//!
//! Building one fails only when the process cannot get what a runtime
//! needs (an epoll and an eventfd descriptor, a thread), e.g. under a tight
//! `ulimit -n`: the user's to fix, so it is a one-line error, not a panic.

use std::process::ExitCode;

use tokio::runtime::{Builder, Runtime};

/// A current-thread runtime for `hwc-ai COMMAND`; when there is none,
/// the reason on stderr and exit status 2 (as when a daemon cannot be
/// reached: the command could not ask anything).
pub fn current_thread(command: &str) -> Result<Runtime, ExitCode> {
    started(
        command,
        Builder::new_current_thread().enable_all().build(),
        ExitCode::from(2),
    )
}

/// A runtime of `workers` threads for `hwc-ai COMMAND` (`up`, which runs
/// the daemons); when there is none, the reason on stderr and exit
/// status 1.
pub fn multi_thread(command: &str, workers: usize) -> Result<Runtime, ExitCode> {
    started(
        command,
        Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build(),
        ExitCode::FAILURE,
    )
}

fn started(
    command: &str,
    built: std::io::Result<Runtime>,
    status: ExitCode,
) -> Result<Runtime, ExitCode> {
    built.map_err(|err| {
        eprintln!("hwc-ai {command}: cannot start the async runtime: {err}");
        status
    })
}
