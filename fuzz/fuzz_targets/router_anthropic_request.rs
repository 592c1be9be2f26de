//! OpenAI → Anthropic: a client's chat completions request as the router
//! translates it for an Anthropic backend. Any JSON gives a Messages
//! request (a JSON object) or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, json)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let stream = flags & 1 == 1;
    if let Ok(request) = hwc_ai_router::backend::anthropic::request(&body, "claude", stream) {
        assert!(request.is_object());
        assert_eq!(request["model"], "claude");
    }
});
