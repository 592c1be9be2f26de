//! The OpenAPI bridge: MCP tools as OpenAPI operations, as Open WebUI's
//! tool servers read them, and tool results as JSON.
//!
//! Open WebUI takes a tool's name from `operationId` (skipping operations
//! without one, matching calls back by it, handing it to models whose
//! function names allow `[A-Za-z0-9_-]{1,64}`), its description from
//! `description`, and its parameters from the `application/json` request
//! body. Input schemas are inlined here: `$ref`s into a tool's own `$defs`
//! would point nowhere once the schema sits inside an OpenAPI document.

use std::collections::HashSet;

use rmcp::model::{CallToolResult, ContentBlock, Tool};
use serde_json::{json, Map, Value};

/// One server's tools, as the spec lists them.
pub struct Section<'a> {
    pub server: &'a str,
    pub tools: &'a [Tool],
}

/// A whole OpenAPI 3.1 document. `aggregate`: paths are
/// `/openapi/{server}/{tool}` and ids `{server}_{tool}`; otherwise one
/// server, paths `/{tool}` under the server URL `base`.
pub fn spec(
    title: &str,
    description: &str,
    base: &str,
    sections: &[Section],
    aggregate: bool,
) -> Value {
    let mut paths = Map::new();
    let mut ids = HashSet::new();
    for section in sections {
        for tool in section.tools {
            let name = tool.name.as_ref();
            let (path, id) = if aggregate {
                (
                    format!("/openapi/{}/{}", section.server, name),
                    format!("{}_{}", section.server, name),
                )
            } else {
                (format!("/{name}"), name.to_owned())
            };
            let id = unique(operation_id(&id), &mut ids);
            paths.insert(path, json!({"post": operation(section.server, tool, &id)}));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": env!("CARGO_PKG_VERSION"), "description": description},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "object", "properties": {
                        "kind": {"type": "string"}, "message": {"type": "string"}
                    }}}
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{"bearer": []}],
    })
}

fn operation(server: &str, tool: &Tool, id: &str) -> Value {
    let description = tool
        .description
        .as_deref()
        .or(tool.title.as_deref())
        .unwrap_or(tool.name.as_ref())
        .to_owned();
    let summary = tool
        .title
        .clone()
        .or_else(|| tool.annotations.as_ref().and_then(|a| a.title.clone()))
        .unwrap_or_else(|| tool.name.to_string());
    let schema = inline_refs(&Value::Object((*tool.input_schema).clone()));
    let error = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let result_schema = tool
        .output_schema
        .as_ref()
        .map(|s| inline_refs(&Value::Object((**s).clone())))
        .unwrap_or_else(|| json!({}));
    json!({
        "operationId": id,
        "summary": summary,
        "description": description,
        "tags": [server],
        "requestBody": {"required": true, "content": {"application/json": {"schema": schema}}},
        "responses": {
            "200": {"description": "The tool's result", "content": {"application/json": {"schema": result_schema}}},
            "400": error("The arguments were refused"),
            "401": error("No key was sent"),
            "403": error("The key is wrong, or the tool is not offered"),
            "404": error("No such server or tool"),
            "500": error("The tool reported an error"),
            "503": error("The server is down"),
            "504": error("The tool did not answer in time"),
        }
    })
}

/// `[A-Za-z0-9_-]{1,64}`: what model function names allow.
fn operation_id(raw: &str) -> String {
    let mut id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() {
        id.push('_');
    }
    id.truncate(64);
    id
}

fn unique(id: String, seen: &mut HashSet<String>) -> String {
    if seen.insert(id.clone()) {
        return id;
    }
    for n in 2.. {
        let suffix = format!("_{n}");
        let mut candidate = id.clone();
        candidate.truncate(64 - suffix.len());
        candidate.push_str(&suffix);
        if seen.insert(candidate.clone()) {
            return candidate;
        }
    }
    unreachable!()
}

/// Replaces every local `$ref` (`#/$defs/X`, `#/definitions/X`, `#`) with
/// the schema it names. A reference back into itself (a recursive type)
/// becomes `{}` with a note: any value, which is what the server checks.
pub fn inline_refs(schema: &Value) -> Value {
    let mut budget = MAX_INLINED;
    let mut out = resolve(schema, schema, &mut Vec::new(), &mut budget);
    if let Value::Object(map) = &mut out {
        map.remove("$defs");
        map.remove("definitions");
        map.remove("$schema");
    }
    out
}

/// The most schema nodes inlining visits for one tool. Each `$ref` is
/// copied where it is used, so a schema whose definitions each use the
/// next one twice doubles per level: 30 levels would be a billion nodes.
/// Real tools' schemas are a few hundred.
pub const MAX_INLINED: usize = 20_000;

fn resolve(node: &Value, root: &Value, stack: &mut Vec<String>, budget: &mut usize) -> Value {
    *budget = budget.saturating_sub(1);
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if stack.contains(reference) {
                    return json!({"description": format!("(recursive: {reference})")});
                }
                if *budget == 0 {
                    return json!({"description": format!("(not inlined, the schema is too large: {reference})")});
                }
                let Some(target) = pointer(root, reference) else {
                    return json!({"description": format!("(unresolved: {reference})")});
                };
                stack.push(reference.clone());
                let mut resolved = resolve(target, root, stack, budget);
                stack.pop();
                // Keywords beside `$ref` (a description, a default) stay.
                if let Value::Object(target) = &mut resolved {
                    for (k, v) in map {
                        if k != "$ref" {
                            target.insert(k.clone(), resolve(v, root, stack, budget));
                        }
                    }
                }
                return resolved;
            }
            Value::Object(
                map.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "$defs" | "definitions"))
                    .map(|(k, v)| (k.clone(), resolve(v, root, stack, budget)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve(v, root, stack, budget))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn pointer<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let fragment = reference.strip_prefix('#')?;
    if fragment.is_empty() {
        return Some(root);
    }
    let decoded = fragment.replace("%24", "$");
    root.pointer(&decoded)
}

/// A tool's result as the response body, or its error message when the
/// tool reported an error (`isError`).
pub fn result_json(result: &CallToolResult) -> Result<Value, String> {
    if result.is_error == Some(true) {
        let text: Vec<&str> = result
            .content
            .iter()
            .filter_map(|c| match c {
                ContentBlock::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        return Err(if text.is_empty() {
            "the tool reported an error".into()
        } else {
            text.join("\n")
        });
    }
    if let Some(structured) = &result.structured_content {
        return Ok(structured.clone());
    }
    let items: Vec<Value> = result.content.iter().map(content_json).collect();
    Ok(match <[Value; 1]>::try_from(items) {
        Ok([one]) => one,
        Err(items) => Value::Array(items),
    })
}

/// Text that is JSON becomes that JSON; other text a string; images,
/// audio and resources keep their MCP shape.
fn content_json(content: &ContentBlock) -> Value {
    match content {
        ContentBlock::Text(t) => {
            serde_json::from_str(&t.text).unwrap_or_else(|_| Value::String(t.text.clone()))
        }
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, schema: Value) -> Tool {
        serde_json::from_value(json!({"name": name, "description": "d", "inputSchema": schema}))
            .unwrap()
    }

    #[test]
    fn refs_are_inlined_and_recursion_stops() {
        let schema = json!({
            "type": "object",
            "properties": {
                "where": {"$ref": "#/$defs/Place", "description": "target"},
                "tree": {"$ref": "#/$defs/Node"}
            },
            "$defs": {
                "Place": {"type": "object", "properties": {"city": {"type": "string"}}},
                "Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}
            }
        });
        let out = inline_refs(&schema);
        assert_eq!(
            out["properties"]["where"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(out["properties"]["where"]["description"], "target");
        assert_eq!(
            out["properties"]["tree"]["properties"]["children"]["items"]["description"],
            "(recursive: #/$defs/Node)"
        );
        assert!(out.get("$defs").is_none());
        assert!(!out.to_string().contains("\"$ref\""), "{out}");
    }

    #[test]
    fn operation_ids_are_unique_and_model_safe() {
        let tools = [
            tool("get.time", json!({"type": "object"})),
            tool("get_time", json!({"type": "object"})),
        ];
        let doc = spec(
            "t",
            "d",
            "/openapi/s",
            &[Section {
                server: "s",
                tools: &tools,
            }],
            false,
        );
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p["post"]["operationId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["get_time", "get_time_2"]);
        let agg = spec(
            "t",
            "d",
            "",
            &[Section {
                server: "time",
                tools: &tools[..1],
            }],
            true,
        );
        assert_eq!(
            agg["paths"]["/openapi/time/get.time"]["post"]["operationId"],
            "time_get_time"
        );
        assert_eq!(operation_id(&"x".repeat(80)).len(), 64);
    }

    #[test]
    fn results_map_to_json() {
        let result = |v: Value| -> CallToolResult { serde_json::from_value(v).unwrap() };
        let text = result(json!({"content": [{"type": "text", "text": "Echo: hi"}]}));
        assert_eq!(result_json(&text).unwrap(), json!("Echo: hi"));
        let json_text = result(json!({"content": [{"type": "text", "text": "{\"a\": 1}"}]}));
        assert_eq!(result_json(&json_text).unwrap(), json!({"a": 1}));
        let structured = result(
            json!({"content": [{"type": "text", "text": "x"}], "structuredContent": {"t": 2}}),
        );
        assert_eq!(result_json(&structured).unwrap(), json!({"t": 2}));
        let two = result(
            json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}),
        );
        assert_eq!(result_json(&two).unwrap(), json!(["a", "b"]));
        let failed =
            result(json!({"content": [{"type": "text", "text": "no such city"}], "isError": true}));
        assert_eq!(result_json(&failed).unwrap_err(), "no such city");
    }
}
