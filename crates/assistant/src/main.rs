use std::process::ExitCode;

use hwc_ai_runtime::daemon::{self, DaemonArgs};

fn main() -> ExitCode {
    let args = DaemonArgs::parse_from_for("assistant", std::env::args_os());
    let config = match daemon::load::<hwc_ai_assistant::Config>("assistant", &args) {
        Ok(Some(config)) => config,
        Ok(None) => return ExitCode::SUCCESS,
        Err(code) => return code,
    };
    // With `tracing` set, the subscriber that also exports spans is
    // installed first (the runtime's own is then left out).
    let traces = match config.tracing.clone() {
        Some(tracing) => match hwc_ai_assistant::otel::install(&config, &tracing) {
            Ok(traces) => Some(traces),
            Err(err) => {
                eprintln!("hwc-ai-assistant: {err}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let code = daemon::serve::<hwc_ai_assistant::Assistant>(config);
    if let Some(traces) = traces {
        traces.shutdown();
    }
    code
}
