//! The relay's scan of an OpenAI-compatible upstream's stream chunks for
//! the usage it reports: any bytes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for chunk in data.split(|&b| b == 0xFF) {
        let _ = hwc_ai_router::fuzzing::relay_usages(chunk);
    }
});
