//! The assistant's refusal classifier on any text: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hwc_ai_assistant::refusal::check(&text);
    let _ = hwc_ai_assistant::refusal::normalise(&text);
});
