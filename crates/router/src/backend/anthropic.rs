//! Translation between OpenAI's chat completions and Anthropic's Messages
//! API, for backends of kind `anthropic`.
//!
//! Requests: system and developer messages are hoisted into `system`;
//! tool results become `tool_result` blocks in a user turn, consecutive
//! turns of one role are merged (Anthropic wants them alternating);
//! assistant tool calls become `tool_use` blocks; `max_tokens`, which
//! Anthropic requires, is filled when the client sent none. Answers and
//! stream events are turned back into OpenAI's shapes, stop reasons and
//! usage included.

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::Endpoint;
use crate::error::ApiError;
use crate::error::Failure;
use crate::record::unix_now;
use crate::table::Backend;

/// The API version this translation follows.
pub const VERSION: &str = "2023-06-01";

/// Used when the request names no limit: Anthropic requires one, and this
/// is enough for a long answer from any current model.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The Messages request for an OpenAI chat completions request.
pub fn request(body: &Value, model: &str, stream: bool) -> Result<Value, String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` must be a list")?;
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let content = message.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.push(text_of(content)),
            "user" => push_turn(&mut turns, "user", blocks_of(content)?),
            "assistant" => {
                let mut blocks = Vec::new();
                let text = text_of(content);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let function = &call["function"];
                    let arguments = function["arguments"].as_str().unwrap_or("{}");
                    let input: Value = serde_json::from_str(arguments)
                        .unwrap_or_else(|_| Value::Object(Map::new()));
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call["id"],
                        "name": function["name"],
                        "input": input,
                    }));
                }
                push_turn(&mut turns, "assistant", blocks);
            }
            "tool" => push_turn(
                &mut turns,
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id").cloned().unwrap_or(Value::Null),
                    "content": text_of(content),
                })],
            ),
            other => return Err(format!("messages[{i}].role `{other}` is not known")),
        }
    }
    let max_tokens = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let mut out = json!({
        "model": model,
        "max_tokens": max_tokens,
        "messages": turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": plain(content)}))
            .collect::<Vec<_>>(),
    });
    let fields = out.as_object_mut().expect("an object");
    if !system.is_empty() {
        fields.insert("system".into(), Value::String(system.join("\n\n")));
    }
    if let Some(t) = body.get("temperature").and_then(Value::as_f64) {
        // Anthropic's range is 0..=1; OpenAI's 0..=2.
        fields.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(p) = body.get("top_p") {
        fields.insert("top_p".into(), p.clone());
    }
    match body.get("stop") {
        Some(Value::String(s)) => {
            fields.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(list)) => {
            fields.insert("stop_sequences".into(), Value::Array(list.clone()));
        }
        _ => {}
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|tool| {
                let f = &tool["function"];
                let mut t = json!({
                    "name": f["name"],
                    "input_schema": f.get("parameters").cloned()
                        .unwrap_or_else(|| json!({"type": "object"})),
                });
                if let Some(d) = f.get("description") {
                    t["description"] = d.clone();
                }
                t
            })
            .collect();
        fields.insert("tools".into(), Value::Array(tools));
    }
    match body.get("tool_choice") {
        Some(Value::String(s)) if s == "auto" => {
            fields.insert("tool_choice".into(), json!({"type": "auto"}));
        }
        Some(Value::String(s)) if s == "required" => {
            fields.insert("tool_choice".into(), json!({"type": "any"}));
        }
        Some(Value::String(s)) if s == "none" => {
            fields.insert("tool_choice".into(), json!({"type": "none"}));
        }
        Some(Value::Object(choice)) => {
            if let Some(name) = choice.get("function").and_then(|f| f.get("name")) {
                fields.insert("tool_choice".into(), json!({"type": "tool", "name": name}));
            }
        }
        _ => {}
    }
    if let Some(effort) = body.get("reasoning_effort").and_then(Value::as_str) {
        thinking(fields, effort);
    }
    if stream {
        fields.insert("stream".into(), Value::Bool(true));
    }
    Ok(out)
}

/// The thinking budget for an OpenAI `reasoning_effort`; none for `none`,
/// `minimal` or a value Anthropic has no equivalent for.
pub fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    }
}

/// Extended thinking for a reasoning effort. The thinking budget comes on
/// top of the answer's own `max_tokens` (Anthropic counts both against it
/// and requires it to be larger). Thinking takes no `temperature` and no
/// forced tool: with a forced tool (schema-checked output) it is left out.
fn thinking(fields: &mut Map<String, Value>, effort: &str) {
    let Some(budget) = thinking_budget(effort) else {
        return;
    };
    let forced = fields
        .get("tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "tool" || t == "any");
    if forced {
        tracing::debug!(
            "reasoning_effort {effort} dropped: thinking cannot be combined with a forced tool"
        );
        return;
    }
    let max_tokens = fields
        .get("max_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    fields.insert("max_tokens".into(), json!(max_tokens + budget));
    fields.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": budget}),
    );
    if fields.remove("temperature").is_some() {
        tracing::debug!("temperature dropped: Anthropic's thinking takes none");
    }
}

/// A turn's content: a lone text block as a plain string, which the API
/// takes as the same thing. Servers that pass Messages on to an
/// OpenAI-compatible model (LiteLLM) keep a block list as a list of
/// parts, which many local chat templates (llama.cpp's) cannot read.
fn plain(mut blocks: Vec<Value>) -> Value {
    match blocks.as_mut_slice() {
        [block] if block["type"] == "text" && block["text"].is_string() => block["text"].take(),
        _ => Value::Array(blocks),
    }
}

/// Appends blocks to the last turn when it has the same role.
fn push_turn(turns: &mut Vec<(String, Vec<Value>)>, role: &str, blocks: Vec<Value>) {
    match turns.last_mut() {
        Some((last, content)) if last == role => content.extend(blocks),
        _ => turns.push((role.to_owned(), blocks)),
    }
}

/// The text of an OpenAI content: a string, or the text parts of a list.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// A user content as Anthropic blocks: text and images.
fn blocks_of(content: &Value) -> Result<Vec<Value>, String> {
    match content {
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Ok(json!({"type": "text", "text": part["text"]})),
                Some("image_url") => {
                    let url = part["image_url"]["url"].as_str().unwrap_or("");
                    Ok(match data_url(url) {
                        Some((media_type, data)) => json!({"type": "image", "source":
                            {"type": "base64", "media_type": media_type, "data": data}}),
                        None => json!({"type": "image", "source": {"type": "url", "url": url}}),
                    })
                }
                other => Err(format!("content part type {other:?} is not supported")),
            })
            .collect(),
        _ => Err("user content must be a string or a list of parts".into()),
    }
}

fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (media_type, data) = rest.split_once(";base64,")?;
    Some((media_type, data))
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "tool_use" => "tool_calls",
        "max_tokens" => "length",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// An OpenAI `chat.completion` for an Anthropic message.
pub fn response(body: &[u8], created: u64) -> Result<Vec<u8>, String> {
    let message: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let blocks = message["content"]
        .as_array()
        .ok_or("the answer has no content list")?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()},
            })),
            _ => {}
        }
    }
    let mut reply = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
    if !calls.is_empty() {
        reply["tool_calls"] = Value::Array(calls);
    }
    let input = message["usage"]["input_tokens"].as_u64().unwrap_or(0);
    let output = message["usage"]["output_tokens"].as_u64().unwrap_or(0);
    let out = json!({
        "id": message["id"],
        "object": "chat.completion",
        "created": created,
        "model": message["model"],
        "choices": [{
            "index": 0,
            "message": reply,
            "finish_reason": finish_reason(message["stop_reason"].as_str().unwrap_or("")),
        }],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    });
    Ok(out.to_string().into_bytes())
}

/// An Anthropic error body in OpenAI's shape; other bodies unchanged.
pub fn error(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v["error"]["message"].is_string() => json!({"error": {
            "message": v["error"]["message"],
            "type": v["error"]["type"],
            "param": null,
            "code": null,
        }})
        .to_string()
        .into_bytes(),
        _ => body.to_vec(),
    }
}

/// Turns an Anthropic event stream into OpenAI chunks, event by event as
/// the bytes arrive.
pub struct StreamTranslator {
    pending: Vec<u8>,
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Content block index → tool-call index.
    tools: HashMap<u64, u64>,
    /// Tool-use id → tool-call index: a block that repeats an id continues
    /// that call (LiteLLM in front of llama.cpp sends each piece of a
    /// call's input as a block of its own, all with the call's id).
    tool_ids: HashMap<String, u64>,
    input_tokens: u64,
    output_tokens: Option<u64>,
}

impl StreamTranslator {
    pub fn new(created: u64, include_usage: bool) -> Self {
        Self {
            pending: Vec::new(),
            id: String::new(),
            model: String::new(),
            created,
            include_usage,
            tools: HashMap::new(),
            tool_ids: HashMap::new(),
            input_tokens: 0,
            output_tokens: None,
        }
    }

    /// Prompt and completion tokens, once the final usage has arrived.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.output_tokens.map(|out| (self.input_tokens, out))
    }

    /// The OpenAI SSE bytes for every event this chunk completes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        // CRs dropped: events may end in CRLF CRLF, and JSON strings cannot
        // hold a raw CR.
        self.pending.extend(chunk.iter().filter(|&&b| b != b'\r'));
        let mut out = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.pending.drain(..end + 2).collect();
            for line in event.split(|&b| b == b'\n') {
                if let Some(data) = line.strip_prefix(b"data:") {
                    if let Ok(data) = serde_json::from_slice::<Value>(data.trim_ascii()) {
                        self.event(&data, &mut out);
                    }
                }
            }
        }
        out
    }

    fn chunk(&self, delta: Value, finish: Option<&str>, out: &mut Vec<u8>) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        emit(&chunk, out);
    }

    fn event(&mut self, data: &Value, out: &mut Vec<u8>) {
        match data["type"].as_str().unwrap_or("") {
            "message_start" => {
                let message = &data["message"];
                self.id = message["id"].as_str().unwrap_or("").to_owned();
                self.model = message["model"].as_str().unwrap_or("").to_owned();
                self.input_tokens = message["usage"]["input_tokens"].as_u64().unwrap_or(0);
                self.chunk(json!({"role": "assistant", "content": ""}), None, out);
            }
            "content_block_start" => {
                let block = &data["content_block"];
                let index = data["index"].as_u64().unwrap_or(0);
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let id = block["id"].as_str().unwrap_or("");
                        if let Some(&tool) = self.tool_ids.get(id) {
                            self.tools.insert(index, tool);
                            return;
                        }
                        let tool = self.tools.values().max().map_or(0, |last| last + 1);
                        if !id.is_empty() {
                            self.tool_ids.insert(id.to_owned(), tool);
                        }
                        self.tools.insert(index, tool);
                        self.chunk(
                            json!({"tool_calls": [{"index": tool, "id": block["id"], "type": "function",
                                   "function": {"name": block["name"], "arguments": ""}}]}),
                            None,
                            out,
                        );
                    }
                    Some("text") if block["text"].as_str().is_some_and(|t| !t.is_empty()) => {
                        self.chunk(json!({"content": block["text"]}), None, out);
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        self.chunk(json!({"content": delta["text"]}), None, out);
                    }
                    Some("input_json_delta") => {
                        let index = data["index"].as_u64().unwrap_or(0);
                        if let Some(&tool) = self.tools.get(&index) {
                            self.chunk(
                                json!({"tool_calls": [{"index": tool,
                                       "function": {"arguments": delta["partial_json"]}}]}),
                                None,
                                out,
                            );
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                let stop = data["delta"]["stop_reason"].as_str().unwrap_or("");
                self.chunk(json!({}), Some(finish_reason(stop)), out);
                let output = data["usage"]["output_tokens"].as_u64().unwrap_or(0);
                // Counts here are cumulative, and some servers (LiteLLM)
                // send the prompt's only here, not in message_start.
                if let Some(input) = data["usage"]["input_tokens"].as_u64() {
                    self.input_tokens = self.input_tokens.max(input);
                }
                self.output_tokens = Some(output);
                if self.include_usage {
                    let usage = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": {"prompt_tokens": self.input_tokens, "completion_tokens": output,
                                  "total_tokens": self.input_tokens + output},
                    });
                    emit(&usage, out);
                }
            }
            "message_stop" => out.extend_from_slice(b"data: [DONE]\n\n"),
            "error" => emit(
                &json!({"error": {"message": data["error"]["message"],
                        "type": data["error"]["type"], "param": null, "code": null}}),
                out,
            ),
            _ => {}
        }
    }
}

fn emit(value: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

// ---- the kind's wire: URL, credentials, headers ----

pub(super) fn outgoing(
    backend: &Backend,
    endpoint: Endpoint,
    body: &Value,
    model: &str,
    stream: bool,
) -> Result<(String, Vec<u8>), Failure> {
    if endpoint != Endpoint::ChatCompletions {
        return Err((
            ApiError::bad_request(format!(
                "backend `{}` (anthropic) has no {} endpoint",
                backend.name,
                endpoint.path()
            )),
            "unsupported",
        ));
    }
    let translated = request(body, model, stream)
        .map_err(|message| (ApiError::bad_request(message), "invalid_request"))?;
    Ok((
        format!("{}/messages", backend.base),
        serde_json::to_vec(&translated).expect("a JSON value serialises"),
    ))
}

pub(super) fn authorize(
    backend: &Backend,
    request: reqwest::RequestBuilder,
) -> reqwest::RequestBuilder {
    let request = request.header("anthropic-version", VERSION);
    match &backend.key {
        Some(key) => request.header("x-api-key", key.expose()),
        None => request,
    }
}

pub(super) fn answer(body: Bytes) -> Bytes {
    match response(&body, unix_now()) {
        Ok(translated) => Bytes::from(translated),
        Err(_) => Bytes::new(),
    }
}

pub(super) fn stream_translator(body: &Value) -> StreamTranslator {
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    StreamTranslator::new(unix_now(), include_usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_hoists_system_merges_tool_results_and_fills_max_tokens() {
        let body = json!({"model": "claude", "temperature": 1.5, "stop": "END",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "no lists"}]},
                {"role": "user", "content": "weather in Oslo and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Oslo\"}"}},
                    {"id": "t2", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Rome\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "cold"},
                {"role": "tool", "tool_call_id": "t2", "content": "warm"}],
            "tools": [{"type": "function", "function": {"name": "w", "description": "weather",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required"});
        let out = request(&body, "claude-x", false).unwrap();
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["system"], "be brief\n\nno lists");
        assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(out["temperature"], 1.0);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["tool_choice"], json!({"type": "any"}));
        assert_eq!(
            out["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3, "{out}");
        assert_eq!(messages[1]["content"][1]["input"], json!({"city": "Rome"}));
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], "t1");
        assert_eq!(messages[2]["content"][1]["content"], "warm");
        assert!(out.get("stream").is_none());
    }

    #[test]
    fn stream_events_split_anywhere_and_in_crlf() {
        let events = format!(
            "event: message_start\r\ndata: {}\r\n\r\nevent: content_block_delta\r\ndata: {}\r\n\r\n",
            r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
        );
        let mut t = StreamTranslator::new(1, false);
        let mut out = Vec::new();
        for byte in events.as_bytes().chunks(7) {
            out.extend(t.push(byte));
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("data: ").count(), 2, "{text}");
        assert!(text.contains(r#""delta":{"content":"hi"}"#), "{text}");
        assert_eq!(t.usage(), None);
        t.push(b"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n");
        assert_eq!(t.usage(), Some((3, 5)));
    }

    #[test]
    fn response_maps_tool_use_stop_reason_and_usage() {
        let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "checking"},
                        {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 4}});
        let out: Value =
            serde_json::from_slice(&response(body.to_string().as_bytes(), 7).unwrap()).unwrap();
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["choices"][0]["message"]["content"], "checking");
        let call = &out["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["arguments"], "{\"city\":\"Oslo\"}");
        assert_eq!(out["usage"]["total_tokens"], 14);
    }
}
