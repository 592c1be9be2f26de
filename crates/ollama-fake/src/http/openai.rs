//! The OpenAI-compatible endpoints Ollama serves on the same port.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::generate::{
    admit, collect, find_installed, pieces, plan, Ask, Collected, Message, Piece, Plan, Want,
};
use super::native::{admit_embedding, vectors};
use super::{dropped, json, streaming, unix_seconds, ApiError};
use crate::fake::FakeOllama;
use crate::name::ModelName;
use crate::text;

/// An error in OpenAI's shape: `{"error": {"message", "type", "param",
/// "code"}}`, the type following the status as Ollama maps it.
pub(super) struct OpenAiError(ApiError);

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        OpenAiError(e)
    }
}

fn error_body(status: StatusCode, message: &str) -> Value {
    let kind = match status {
        StatusCode::BAD_REQUEST => "invalid_request_error",
        StatusCode::NOT_FOUND => "not_found_error",
        _ => "api_error",
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let ApiError(status, message) = self.0;
        (status, axum::Json(error_body(status, &message))).into_response()
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, OpenAiError> {
    Ok(super::parse(body)?)
}

/// Completion ids: `chatcmpl-<n>`, as Ollama numbers them.
fn next_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn model_object(name: &ModelName, modified: SystemTime) -> Value {
    json!({
        "id": name.shortest(),
        "object": "model",
        "created": unix_seconds(modified),
        "owned_by": name.namespace(),
    })
}

pub(super) async fn models(State(fake): State<FakeOllama>) -> Response {
    let mut installed: Vec<_> = fake.lock().installed.values().cloned().collect();
    installed.sort_by_key(|i| std::cmp::Reverse(i.modified_at));
    let data: Vec<Value> = installed
        .iter()
        .map(|i| model_object(&i.model.name, i.modified_at))
        .collect();
    json(json!({ "object": "list", "data": data }))
}

pub(super) async fn model(
    State(fake): State<FakeOllama>,
    Path(raw): Path<String>,
) -> Result<Response, OpenAiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("model {raw:?} not found"));
    let name = ModelName::parse(&raw).map_err(|_| not_found())?;
    let installed = fake.lock().installed.get(&name.key()).cloned();
    let installed = installed.ok_or_else(not_found)?;
    Ok(json(model_object(
        &installed.model.name,
        installed.modified_at,
    )))
}

#[derive(Deserialize)]
struct ChatCompletionRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<i64>,
    #[serde(default)]
    max_completion_tokens: Option<i64>,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    response_format: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// `response_format` as Ollama's `format`: `json_object` → `"json"`,
/// `json_schema` → the schema.
fn format_of(response_format: Option<&Value>) -> Option<Value> {
    let rf = response_format?;
    match rf.get("type")?.as_str()? {
        "json_object" => Some(json!("json")),
        "json_schema" => rf.get("json_schema")?.get("schema").cloned(),
        _ => None,
    }
}

/// OpenAI's tool calls: arguments as a JSON string, `type: function`.
fn openai_tool_calls(calls: &[Value]) -> Vec<Value> {
    calls
        .iter()
        .map(|c| {
            let f = &c["function"];
            json!({
                "id": c["id"],
                "index": f["index"],
                "type": "function",
                "function": { "name": f["name"], "arguments": f["arguments"].to_string() },
            })
        })
        .collect()
}

fn usage(plan: &Plan) -> Value {
    let completion = plan.eval_count();
    json!({
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.prompt_tokens + completion,
    })
}

fn finish_reason(plan: &Plan) -> &'static str {
    if plan.tool_calls.is_empty() {
        plan.done_reason
    } else {
        "tool_calls"
    }
}

/// The first chunk of a stream carries the role, as OpenAI's do.
fn with_role(first: &mut bool, mut delta: Value) -> Value {
    if std::mem::take(first) {
        delta["role"] = json!("assistant");
    }
    delta
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

pub(super) async fn chat_completions(
    State(fake): State<FakeOllama>,
    body: Bytes,
) -> Result<Response, OpenAiError> {
    let started = Instant::now();
    let req: ChatCompletionRequest = parse(&body)?;
    let model = find_installed(&fake, &req.model).await?;
    let ask = Ask {
        raw: &req.model,
        verb: "chat",
        tools: &req.tools,
        think: None,
    };
    let fault = admit(&fake, &model, &ask)?;
    fake.lock()
        .load(&model.name.key(), super::keep_alive(None)?);
    let (input, tools) = super::generate::chat_input(&req.messages, &req.tools);
    let format = format_of(req.response_format.as_ref());
    let want = Want {
        input: &input,
        format: format.as_ref(),
        num_predict: req.max_completion_tokens.or(req.max_tokens),
        tools,
    };
    let plan = plan(&fake, &model, want, fault, started);
    let id = next_id("chatcmpl");
    let created = unix_seconds(SystemTime::now());

    if !req.stream {
        return match collect(&plan).await {
            Collected::Done => {
                let mut message = json!({ "role": "assistant", "content": plan.tokens.concat() });
                if !plan.tool_calls.is_empty() {
                    message["tool_calls"] = json!(openai_tool_calls(&plan.tool_calls));
                }
                Ok(json(json!({
                    "id": id,
                    "object": "chat.completion",
                    "created": created,
                    "model": req.model,
                    "system_fingerprint": "fp_ollama",
                    "choices": [{
                        "index": 0,
                        "message": message,
                        "finish_reason": finish_reason(&plan),
                    }],
                    "usage": usage(&plan),
                })))
            }
            Collected::Error(message) => {
                Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message).into())
            }
            Collected::Drop => Ok(super::cut_connection()),
        };
    }

    let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
    let model_name = req.model.clone();
    let mut first = true;
    let body = pieces(&plan).map(move |piece| {
        let chunk = |choices: Value| {
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model_name,
                "system_fingerprint": "fp_ollama",
                "choices": choices,
            })
        };
        match piece {
            Piece::Token(t) => {
                let d = with_role(&mut first, json!({ "content": t }));
                Ok(sse(&chunk(
                    json!([{ "index": 0, "delta": d, "finish_reason": null }]),
                )))
            }
            Piece::ToolCalls(calls) => {
                let d = with_role(
                    &mut first,
                    json!({ "content": "", "tool_calls": openai_tool_calls(&calls) }),
                );
                Ok(sse(&chunk(
                    json!([{ "index": 0, "delta": d, "finish_reason": null }]),
                )))
            }
            Piece::Done => {
                let mut out = Vec::new();
                if first {
                    let d = with_role(&mut first, json!({ "content": "" }));
                    out.extend_from_slice(&sse(&chunk(
                        json!([{ "index": 0, "delta": d, "finish_reason": null }]),
                    )));
                }
                let finish =
                    json!([{ "index": 0, "delta": {}, "finish_reason": finish_reason(&plan) }]);
                out.extend_from_slice(&sse(&chunk(finish)));
                if include_usage {
                    let mut u = chunk(json!([]));
                    u["usage"] = usage(&plan);
                    out.extend_from_slice(&sse(&u));
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                Ok(Bytes::from(out))
            }
            Piece::Error(message) => Ok(sse(&error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                &message,
            ))),
            Piece::Drop => Err(dropped()),
        }
    });
    Ok(streaming("text/event-stream", body))
}

#[derive(Deserialize)]
struct EmbeddingsRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    dimensions: Option<usize>,
}

/// `input` as texts: a string, a list of strings, or token arrays (which
/// the fake reads as their numbers joined by spaces).
fn texts(input: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::new(StatusCode::BAD_REQUEST, "invalid input");
    let tokens = |v: &[Value]| -> Option<String> {
        let ns: Option<Vec<String>> = v
            .iter()
            .map(|n| n.as_i64().map(|n| n.to_string()))
            .collect();
        ns.map(|ns| ns.join(" "))
    };
    match input {
        Value::String(s) if !s.is_empty() => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => {
            if items.iter().all(Value::is_number) {
                return Ok(vec![tokens(items).ok_or_else(bad)?]);
            }
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Array(t) => tokens(t).ok_or_else(bad),
                    _ => Err(bad()),
                })
                .collect()
        }
        _ => Err(bad()),
    }
}

pub(super) async fn embeddings(
    State(fake): State<FakeOllama>,
    body: Bytes,
) -> Result<Response, OpenAiError> {
    let req: EmbeddingsRequest = parse(&body)?;
    let inputs = texts(&req.input)?;
    let model = admit_embedding(&fake, &req.model, None).await?;
    let data: Vec<Value> = vectors(&model, &inputs, req.dimensions)
        .into_iter()
        .enumerate()
        .map(|(index, v)| json!({ "object": "embedding", "embedding": v, "index": index }))
        .collect();
    let tokens: u64 = inputs.iter().map(|t| text::count_tokens(t)).sum();
    Ok(json(json!({
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    })))
}
