//! `hwc-ai check-config DAEMON FILE`.

use std::path::Path;
use std::process::ExitCode;

use hwc_ai_runtime::{config, daemons};

pub fn main(daemon: &str, file: &Path) -> ExitCode {
    let known = daemons::find(daemon).map(|d| d.name);
    let result = match known.unwrap_or(daemon) {
        "prober" => config::load::<hwc_ai_prober::Config>(file).map(drop),
        "puller" => config::load::<hwc_ai_puller::Config>(file).map(drop),
        "router" => config::load::<hwc_ai_router::Config>(file).map(drop),
        "mcp" => config::load::<hwc_ai_mcp::Config>(file).map(drop),
        "assistant" => config::load::<hwc_ai_assistant::Config>(file).map(drop),
        "up" => crate::up::load(file).map(drop),
        other => {
            let names: Vec<&str> = daemons::ALL.iter().map(|d| d.name).collect();
            eprintln!(
                "unknown daemon `{other}`; this build knows: {}, up",
                names.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon added to the runtime's table and not here is caught.
    #[test]
    fn every_daemon_in_the_table_can_be_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.json");
        std::fs::write(&file, "{}").unwrap();
        for d in daemons::ALL {
            for name in [d.name, d.unit] {
                assert_ne!(main(name, &file), ExitCode::from(2), "{name}");
            }
        }
        assert_eq!(main("nonesuch", &file), ExitCode::from(2));
    }
}
