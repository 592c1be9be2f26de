//! The "model": deterministic output, so tests can assert on it.
//!
//! - A reply echoes its input: `echo: <prompt words>`, one token per word.
//! - With a JSON schema (`format` / `response_format`), the reply is the
//!   smallest JSON document of that shape, strings filled with the input.
//! - A chat offering tools calls a tool when the last user message names
//!   it, with arguments built from the tool's parameter schema.
//! - An embedding is a unit vector seeded by the text's SHA-256: equal
//!   texts, equal vectors.

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

/// The longest reply, in tokens, whatever `num_predict` says.
pub const MAX_REPLY_TOKENS: usize = 512;

/// The tokens of the echo reply to `input`.
pub fn echo_tokens(input: &str) -> Vec<String> {
    let mut tokens = vec!["echo:".to_owned()];
    tokens.extend(
        input
            .split_whitespace()
            .take(MAX_REPLY_TOKENS - 1)
            .map(|w| format!(" {w}")),
    );
    tokens
}

/// Splits a JSON document into tokens of a few characters, as a model
/// would stream it.
pub fn json_tokens(doc: &Value) -> Vec<String> {
    let text = doc.to_string();
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(8).map(|c| c.iter().collect()).collect()
}

/// How many tokens the fake counts in `text`: its words, at least one.
pub fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count().max(1) as u64
}

/// What a structured-output request asks for: `"json"` (any JSON) or a
/// schema object.
pub fn structured(format: Option<&Value>, text: &str) -> Option<Value> {
    match format? {
        Value::String(s) if s == "json" => Some(json!({ "echo": text })),
        schema @ Value::Object(_) => Some(instance(schema, text)),
        _ => None,
    }
}

/// The smallest value that satisfies the common parts of a JSON schema:
/// `const`, `enum`, `type`, required (or all) properties, `minItems`.
pub fn instance(schema: &Value, text: &str) -> Value {
    let Some(obj) = schema.as_object() else {
        return Value::Null;
    };
    if let Some(c) = obj.get("const") {
        return c.clone();
    }
    if let Some(first) = obj
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return instance(first, text);
        }
    }
    let ty = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        // A list of types: the first one that is not null.
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if obj.contains_key("properties") => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let props = obj.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = obj
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            if let Some(props) = props {
                for (name, sub) in props {
                    if required.is_empty() || required.contains(&name.as_str()) {
                        out.insert(name.clone(), instance(sub, text));
                    }
                }
            }
            Value::Object(out)
        }
        "array" => {
            let n = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = obj.get("items").cloned().unwrap_or(json!({}));
            Value::Array((0..n).map(|_| instance(&item, text)).collect())
        }
        "integer" => json!(obj.get("minimum").and_then(Value::as_i64).unwrap_or(0)),
        "number" => json!(obj.get("minimum").and_then(Value::as_f64).unwrap_or(0.0)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => json!(text),
    }
}

/// A unit vector of `dims` numbers, determined by `text`.
pub fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let seed = Sha256::digest(text.as_bytes());
    let mut state = u64::from_le_bytes(seed[..8].try_into().expect("8 bytes"));
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        })
        .collect();
    normalize(&mut v);
    v
}

/// Scales `v` to unit length, as Ollama does with every embedding.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A stable id derived from `seed`: `call_` and 8 characters, as Ollama
/// names tool calls.
pub fn call_id(seed: &str) -> String {
    let hash = Sha256::digest(seed.as_bytes());
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = hash[..8]
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect();
    format!("call_{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_is_word_tokens() {
        assert_eq!(
            echo_tokens("why  is\nthe sky"),
            ["echo:", " why", " is", " the", " sky"]
        );
        assert_eq!(echo_tokens("").len(), 1);
    }

    #[test]
    fn embeddings_are_unit_and_stable() {
        let a = embedding("hello", 16);
        assert_eq!(a.len(), 16);
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(a, embedding("hello", 16));
        assert_ne!(a, embedding("hello!", 16));
    }

    #[test]
    fn schema_instances() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1},
                "unit": {"enum": ["c", "f"]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "note": {"type": ["null", "string"]}
            },
            "required": ["city", "days", "unit", "tags"]
        });
        assert_eq!(
            instance(&schema, "Paris"),
            json!({"city": "Paris", "days": 1, "unit": "c", "tags": ["Paris"]})
        );
        assert_eq!(
            structured(Some(&json!("json")), "x"),
            Some(json!({"echo": "x"}))
        );
        assert_eq!(structured(Some(&json!("")), "x"), None);
    }
}
