//! Ollama's `/api/pull` NDJSON progress as the puller reads it, cut into
//! chunks anywhere (0xFF separates them): lines, layers and percentage.
//! Never a panic, the percentage within 0..=100.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chunks: Vec<Vec<u8>> = data.split(|&b| b == 0xFF).map(<[u8]>::to_vec).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let (_, percent) = runtime.block_on(hwc_ai_puller::fuzzing::pull(chunks));
    assert!(percent <= 100);
});
