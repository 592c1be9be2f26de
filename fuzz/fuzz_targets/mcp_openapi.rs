//! An MCP server's tool list (`tools/list` result) as the gateway turns it
//! into an OpenAPI document, and a tool result as JSON. Any JSON, never a
//! panic; `$ref`s are inlined without blowing up.
#![no_main]

use libfuzzer_sys::fuzz_target;

use hwc_ai_mcp::openapi;
use rmcp::model::{CallToolResult, Tool};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = openapi::inline_refs(&value);
    if let Ok(tools) = serde_json::from_value::<Vec<Tool>>(value["tools"].clone()) {
        let sections = [openapi::Section {
            server: "fuzz",
            tools: &tools,
        }];
        let spec = openapi::spec("t", "d", "http://127.0.0.1", &sections, true);
        assert_eq!(spec["openapi"], "3.1.0");
        let _ = openapi::spec("t", "d", "http://127.0.0.1", &sections, false);
    }
    if let Ok(result) = serde_json::from_value::<CallToolResult>(value) {
        let _ = openapi::result_json(&result);
    }
});
