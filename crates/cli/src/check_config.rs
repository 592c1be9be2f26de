//! `hwc-ai check-config DAEMON FILE`.

use std::path::Path;
use std::process::ExitCode;

use hwc_ai_runtime::daemons;

pub fn main(daemon: &str, file: &Path) -> ExitCode {
    let result = match daemons::find(daemon) {
        Some(d) => crate::daemon::with(d.name, crate::daemon::Check(file)),
        None if daemon == "up" => Some(crate::up::load(file).map(drop)),
        None => None,
    };
    let Some(result) = result else {
        let names: Vec<&str> = daemons::ALL.iter().map(|d| d.name).collect();
        eprintln!(
            "unknown daemon `{daemon}`; this build knows: {}, up",
            names.join(", ")
        );
        return ExitCode::from(2);
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
