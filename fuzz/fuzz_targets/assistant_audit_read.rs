//! The audit log reader (`hwc-ai assistant audit`, `verify`) on any file:
//! a verdict or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("audit.sqlite");
    std::fs::write(&path, data).expect("the file written");
    let _ = hwc_ai_assistant::audit::verify(&path);
    let _ = hwc_ai_assistant::audit::tail_file(&path, 20);
});
