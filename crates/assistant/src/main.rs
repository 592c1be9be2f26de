use std::process::ExitCode;

use hwc_ai_runtime::daemon::{self, DaemonArgs};

fn main() -> ExitCode {
    let args = DaemonArgs::parse_from_for("assistant", std::env::args_os());
    let config = match daemon::load::<hwc_ai_assistant::Config>("assistant", &args) {
        Ok(Some(config)) => config,
        Ok(None) => return ExitCode::SUCCESS,
        Err(code) => return code,
    };
    // With `tracing` set, `serve` installs the exporter and flushes it.
    daemon::serve::<hwc_ai_assistant::Assistant>(config)
}
