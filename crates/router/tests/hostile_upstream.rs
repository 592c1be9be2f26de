//! What a broken or hostile upstream sends, through the parsers the fuzz
//! targets cover (`fuzz/`): usage scanning of relayed chunks and the
//! Anthropic translation. Garbage is passed on or refused, never a panic.

use hwc_ai_router::backend::anthropic::{self, StreamTranslator};
use hwc_ai_router::fuzzing::relay_usages;

#[test]
fn usage_is_read_from_data_lines_and_garbage_is_skipped() {
    let chunk = b"data: {\"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 5}}\n\n\
data: {\"usage\": 12}\n\ndata: {\"usage\"\n\ndata: [DONE]\n\n";
    assert_eq!(relay_usages(chunk), [(Some(3), Some(5))]);
    assert!(relay_usages(b"data: {\"usage\": {\"prompt_tokens\": -1}}\n").is_empty());
    assert!(relay_usages(&[0xff, b'"', b'u']).is_empty());
}

#[test]
fn anthropic_garbage_is_an_error_or_passed_on() {
    assert!(anthropic::response(b"{\"content\": 7}", 1).is_err());
    assert!(anthropic::response(b"\xff\xfe", 1).is_err());
    assert_eq!(anthropic::error(b"not json"), b"not json");
    let mut t = StreamTranslator::new(1, true);
    let mut out = t.push(b"event: message_start\ndata: {\"message\": 3}\n\n");
    out.extend(t.push(b"event: content_block_delta\ndata: {\"index\": 18446744073709551615, \"delta\": {\"type\": \"input_json_delta\", \"partial_json\": 1}}\n\n"));
    out.extend(t.push(b"data: \xff\n\n"));
    for line in out.split(|&b| b == b'\n') {
        if let Some(payload) = line.strip_prefix(b"data: ") {
            if payload != b"[DONE]" {
                serde_json::from_slice::<serde_json::Value>(payload).unwrap();
            }
        }
    }
}
