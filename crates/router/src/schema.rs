//! Schema-checked JSON output: asking each kind of backend for
//! schema-shaped JSON in its own way, and checking the answer with a real
//! JSON Schema validator.
//!
//! OpenAI-compatible backends (OpenAI, Ollama, llama.cpp, vLLM) get
//! `response_format: {"type": "json_schema", ...}`, which the local ones
//! enforce with a grammar. Anthropic ignores `response_format`; it gets one
//! forced tool whose input schema is the schema, and the tool's input is
//! the answer. Schemas are compiled without any way to fetch: a `$ref` to
//! a URL or a file is refused, never followed.

use serde_json::{json, Map, Value};

use crate::config::{BackendKind, SchemaFormat};

/// The name of the forced tool, and of the `json_schema` sent to
/// OpenAI-compatible backends.
pub const TOOL: &str = "structured_output";

/// How many validation errors a failure lists: enough to repair from,
/// bounded for a log line and an error body.
const MAX_ERRORS: usize = 10;

pub struct Schema {
    pub value: Value,
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles a schema; the error says why it is not one.
    pub fn compile(value: Value) -> Result<Self, String> {
        if !value.is_object() && !value.is_boolean() {
            return Err("a JSON schema must be an object".to_owned());
        }
        let validator = jsonschema::validator_for(&value)
            .map_err(|e| format!("not a usable JSON schema: {}", clip(&e.to_string())))?;
        Ok(Self { value, validator })
    }

    /// The JSON in `content`, when it parses and validates; otherwise every
    /// reason it does not (the first [`MAX_ERRORS`]).
    pub fn check(&self, content: &str) -> Result<Value, Vec<String>> {
        let text = unfence(content);
        let value: Value = serde_json::from_str(text)
            .or_else(|e| {
                // A raw newline or tab inside a string (small models write
                // them) is the only lapse forgiven, as Python's
                // `json.loads(strict=False)` forgives it.
                if e.is_syntax() && e.to_string().contains("control character") {
                    serde_json::from_str(&escape_controls(text)).map_err(|_| e)
                } else {
                    Err(e)
                }
            })
            .map_err(|e| vec![format!("the answer is not JSON: {e}")])?;
        let errors: Vec<String> = self
            .validator
            .iter_errors(&value)
            .take(MAX_ERRORS)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                clip(&format!("{at}: {e}"))
            })
            .collect();
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(errors)
        }
    }
}

/// A model that wraps its JSON in a Markdown code fence has still answered
/// in JSON.
fn unfence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let rest = rest.split_once('\n').map_or("", |(_, body)| body);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// `text` with control characters inside JSON strings escaped.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string && !escaped && (c as u32) < 0x20 {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                other => out.push_str(&format!("\\u{:04x}", other as u32)),
            }
            continue;
        }
        if in_string && !escaped && c == '\\' {
            escaped = true;
        } else {
            if c == '"' && !escaped {
                in_string = !in_string;
            }
            escaped = false;
        }
        out.push(c);
    }
    out
}

fn clip(text: &str) -> String {
    const MAX: usize = 300;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX).collect();
    out.push('…');
    out
}

/// Asks a backend of `kind` for output shaped by `schema`. Returns whether
/// the answer will come as the forced tool's input.
pub fn shape(
    body: &mut Map<String, Value>,
    schema: &Value,
    kind: BackendKind,
    format: SchemaFormat,
) -> bool {
    match kind {
        BackendKind::OpenaiCompatible => {
            let response_format = match format {
                SchemaFormat::JsonSchema => json!({"type": "json_schema",
                    "json_schema": {"name": TOOL, "schema": schema, "strict": true}}),
                SchemaFormat::JsonObject => json!({"type": "json_object", "schema": schema}),
            };
            body.insert("response_format".into(), response_format);
            false
        }
        BackendKind::Anthropic => {
            body.remove("response_format");
            body.insert(
                "tools".into(),
                json!([{"type": "function", "function": {
                    "name": TOOL,
                    "description": "Give the answer as this tool's input.",
                    "parameters": schema,
                }}]),
            );
            body.insert(
                "tool_choice".into(),
                json!({"type": "function", "function": {"name": TOOL}}),
            );
            true
        }
    }
}

/// The answer's text from a chat completion: the first choice's content,
/// or, when the tool was forced, the tool call's arguments.
pub fn content_of(answer: &Value, forced_tool: bool) -> Option<String> {
    let message = answer.pointer("/choices/0/message")?;
    if forced_tool {
        let calls = message.get("tool_calls").and_then(Value::as_array)?;
        let call = calls
            .iter()
            .find(|c| c.pointer("/function/name").and_then(Value::as_str) == Some(TOOL))?;
        return call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    message
        .get("content")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The turns that ask a model to fix its answer: its answer, then what was
/// wrong with it.
pub fn repair_turns(content: &str, errors: &[String]) -> [Value; 2] {
    let list = errors
        .iter()
        .map(|e| format!("- {e}"))
        .collect::<Vec<_>>()
        .join("\n");
    [
        json!({"role": "assistant", "content": content}),
        json!({"role": "user", "content": format!(
            "Your answer does not match the required JSON schema:\n{list}\n\
             Answer again with only the corrected JSON, nothing else."
        )}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triage() -> Schema {
        Schema::compile(json!({
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": {
                "type": "object", "required": ["id", "score"],
                "properties": {"id": {"type": "string"}, "score": {"type": "number"}}}}}
        }))
        .unwrap()
    }

    #[test]
    fn valid_json_passes_and_fences_are_tolerated() {
        let schema = triage();
        let value = schema
            .check(r#"{"items": [{"id": "a", "score": 1.5}]}"#)
            .unwrap();
        assert_eq!(value["items"][0]["id"], "a");
        assert!(schema.check("```json\n{\"items\": []}\n```").is_ok());
    }

    #[test]
    fn raw_control_characters_in_strings_are_forgiven() {
        let schema = triage();
        let value = schema
            .check("{\"items\": [{\"id\": \"a\nb\\\"c\td\", \"score\": 1}]}")
            .unwrap();
        assert_eq!(value["items"][0]["id"], "a\nb\"c\td");
        // Outside a string a control character is whitespace or an error,
        // as JSON says.
        assert!(schema.check("{\"items\":\u{1}[]}").is_err());
    }

    #[test]
    fn failures_name_the_place_and_the_reason() {
        let schema = triage();
        let errors = schema.check(r#"{"items": [{"id": 7}]}"#).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("/items/0/id: ") && e.contains("string")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.contains("score")), "{errors:?}");
        let errors = schema.check("Sure! Here is the JSON").unwrap_err();
        assert!(
            errors[0].starts_with("the answer is not JSON"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_schema_that_would_fetch_is_refused() {
        let err = Schema::compile(json!({"$ref": "https://example.com/s.json"}))
            .err()
            .unwrap();
        assert!(err.starts_with("not a usable JSON schema"), "{err}");
        assert!(Schema::compile(json!("string")).is_err());
    }

    #[test]
    fn each_backend_is_asked_its_own_way() {
        let schema = json!({"type": "object"});
        let mut body = Map::new();
        let json_schema = SchemaFormat::JsonSchema;
        assert!(!shape(
            &mut body,
            &schema,
            BackendKind::OpenaiCompatible,
            json_schema
        ));
        assert_eq!(body["response_format"]["json_schema"]["schema"], schema);
        let mut body = Map::new();
        shape(
            &mut body,
            &schema,
            BackendKind::OpenaiCompatible,
            SchemaFormat::JsonObject,
        );
        assert_eq!(
            body["response_format"],
            json!({"type": "json_object", "schema": schema})
        );
        let mut body = Map::new();
        body.insert("response_format".into(), json!({"type": "json_object"}));
        assert!(shape(
            &mut body,
            &schema,
            BackendKind::Anthropic,
            json_schema
        ));
        assert!(body.get("response_format").is_none());
        assert_eq!(body["tools"][0]["function"]["parameters"], schema);
        assert_eq!(body["tool_choice"]["function"]["name"], TOOL);
    }

    #[test]
    fn content_comes_from_the_message_or_the_forced_tool() {
        let answer = json!({"choices": [{"message": {"content": "{}", "tool_calls": [
            {"function": {"name": TOOL, "arguments": "{\"a\":1}"}}]}}]});
        assert_eq!(content_of(&answer, false).unwrap(), "{}");
        assert_eq!(content_of(&answer, true).unwrap(), "{\"a\":1}");
        assert!(content_of(&json!({"choices": []}), false).is_none());
    }
}
