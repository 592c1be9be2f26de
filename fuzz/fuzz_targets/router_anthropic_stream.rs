//! Anthropic → OpenAI, streamed: a backend's event stream cut into chunks
//! anywhere (the first byte of each 0xFF-separated piece is a boundary),
//! translated event by event, then scanned for usage the way the relay
//! scans what it passes on. Never a panic; every `data:` line the
//! translator emits is JSON or `[DONE]`.
#![no_main]

use libfuzzer_sys::fuzz_target;

use hwc_ai_router::backend::anthropic::StreamTranslator;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut translator = StreamTranslator::new(1, flags & 1 == 1);
    let mut out = Vec::new();
    for chunk in rest.split(|&b| b == 0xFF) {
        out.extend(translator.push(chunk));
    }
    let _ = translator.usage();
    for line in out.split(|&b| b == b'\n') {
        if let Some(payload) = line.strip_prefix(b"data: ") {
            if payload != b"[DONE]" {
                serde_json::from_slice::<serde_json::Value>(payload)
                    .expect("every translated event is JSON");
            }
        }
    }
    let _ = hwc_ai_router::fuzzing::relay_usages(&out);
});
