//! Tool schemas an MCP server may send to make the gateway's OpenAPI
//! conversion blow up (the fuzz target `mcp_openapi` has one in its seeds).

use std::time::Instant;

use serde_json::{json, Map, Value};

/// `$defs` where each definition uses the next one twice: inlined naively,
/// 40 levels are 2^40 nodes.
fn doubling(levels: usize) -> Value {
    let mut defs = Map::new();
    for i in 0..levels {
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {
                "a": {"$ref": format!("#/$defs/d{}", i + 1)},
                "b": {"$ref": format!("#/$defs/d{}", i + 1)},
            }}),
        );
    }
    defs.insert(format!("d{levels}"), json!({"type": "string"}));
    json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "$defs": defs})
}

#[test]
fn a_schema_that_doubles_per_reference_is_inlined_in_bounded_time_and_size() {
    let started = Instant::now();
    let out = hwc_ai_mcp::openapi::inline_refs(&doubling(40));
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
    let text = out.to_string();
    assert!(text.len() < 10 * 1024 * 1024, "{} bytes", text.len());
    assert!(text.contains("not inlined, the schema is too large"));
    assert!(out.get("$defs").is_none());
}

#[test]
fn a_small_doubling_schema_is_still_inlined_whole() {
    let out = hwc_ai_mcp::openapi::inline_refs(&doubling(4));
    assert_eq!(
        out.pointer("/properties/x/properties/a/properties/b/properties/a/properties/b"),
        Some(&json!({"type": "string"}))
    );
    assert!(!out.to_string().contains("too large"));
}

/// Header injection through the config: a header name or value carrying
/// CR/LF (a second header, or a body) is a config error naming the field.
#[test]
fn configured_headers_cannot_inject_lines() {
    for (name, value) in [
        ("X-A\r\nEvil", "1"),
        ("X-A", "1\r\nX-Evil: 2"),
        ("X-A", "1\nX-Evil: 2"),
        ("X A", "1"),
    ] {
        let doc = json!({"servers": [{"name": "r", "url": "http://127.0.0.1:1/mcp", "headers": {name: value}}]});
        let err =
            hwc_ai_runtime::config::parse::<hwc_ai_mcp::Config>(&doc.to_string()).expect_err(name);
        assert!(err.path.starts_with("servers[0].headers."), "{err}");
        assert!(err.message.contains("not a valid HTTP header"), "{err}");
    }
}
