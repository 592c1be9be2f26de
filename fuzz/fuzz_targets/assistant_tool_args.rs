//! The assistant's tool calls as a model (or a tool server client) makes
//! them: any tool name and JSON arguments, checked against the tool's
//! schema, then run. The runbook tool is set up with a file outside its
//! directory reachable by `..` and by a symlink: no call ever returns that
//! file's text. Never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

use hwc_ai_assistant::tools::Tools;

const OUTSIDE: &str = "OUTSIDE-THE-RUNBOOKS";

struct Setup {
    runtime: tokio::runtime::Runtime,
    tools: Arc<Tools>,
    _dir: tempfile::TempDir,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let runbooks = dir.path().join("runbooks");
        std::fs::create_dir_all(runbooks.join("sub")).unwrap();
        std::fs::write(runbooks.join("disk.md"), "# Disk full\nfree space first\n").unwrap();
        std::fs::write(runbooks.join("sub/dns.md"), "# DNS\nrestart resolved\n").unwrap();
        std::fs::write(dir.path().join("secret.md"), OUTSIDE).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), runbooks.join("link.md")).unwrap();
        let doc = serde_json::json!({
            "stateDirectory": dir.path().join("state"),
            "tools": ["docs_search"],
            "runbooks": runbooks,
        });
        let config: hwc_ai_assistant::Config =
            hwc_ai_runtime::config::parse(&doc.to_string()).expect("the config");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let tools = runtime.block_on(Tools::new(&config)).expect("the tools");
        Setup {
            runtime,
            tools,
            _dir: dir,
        }
    })
}

const NAMES: [&str; 5] = ["docs_search", "ha_light_on", "services", "nope", ""];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, json)) = data.split_first() else {
        return;
    };
    let Ok(arguments) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let s = setup();
    let name = NAMES[pick as usize % NAMES.len()];
    if let Ok(answer) = s.runtime.block_on(s.tools.call(name, &arguments)) {
        assert_eq!(name, "docs_search", "only the enabled tool runs");
        assert!(
            !answer.to_string().contains(OUTSIDE),
            "a file outside the runbook directory was read: {arguments}"
        );
    }
});
