//! `hwc-ai check-config DAEMON FILE`.

use std::path::Path;
use std::process::ExitCode;

use hwc_ai_runtime::config;

/// Daemons whose configs this build can check.
pub const DAEMONS: &[&str] = &["prober", "puller", "router", "mcp", "assistant", "up"];

pub fn main(daemon: &str, file: &Path) -> ExitCode {
    let result = match daemon {
        "prober" | "hwc-ai-prober" => config::load::<hwc_ai_prober::Config>(file).map(drop),
        "puller" | "hwc-ai-puller" => config::load::<hwc_ai_puller::Config>(file).map(drop),
        "router" | "hwc-ai-router" => config::load::<hwc_ai_router::Config>(file).map(drop),
        "mcp" | "hwc-ai-mcp" => config::load::<hwc_ai_mcp::Config>(file).map(drop),
        "assistant" | "hwc-ai-assistant" => {
            config::load::<hwc_ai_assistant::Config>(file).map(drop)
        }
        "up" => crate::up::load(file).map(drop),
        other => {
            eprintln!(
                "unknown daemon `{other}`; this build knows: {}",
                DAEMONS.join(", ")
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => {
            println!("{}: valid {daemon} config", file.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", file.display());
            ExitCode::FAILURE
        }
    }
}
