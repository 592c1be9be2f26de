//! The MCP wrap unit's config document (`hwc-ai-mcp wrap`): any bytes give
//! a config or an error that says what is wrong, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(err) = hwc_ai_runtime::config::parse::<hwc_ai_mcp::config::WrapConfig>(text) {
        assert!(!err.to_string().trim().is_empty(), "an empty config error");
    }
});
