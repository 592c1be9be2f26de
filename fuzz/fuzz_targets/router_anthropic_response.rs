//! Anthropic → OpenAI: a backend's whole answer and its error body, as the
//! router translates them. Any bytes: a chat completion that is JSON, or
//! an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use hwc_ai_router::backend::anthropic;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = anthropic::response(data, 1) {
        let v: serde_json::Value = serde_json::from_slice(&out).expect("the translation is JSON");
        assert_eq!(v["object"], "chat.completion");
    }
    let _ = anthropic::error(data);
});
