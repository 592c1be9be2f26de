//! `POST /api/generate` and `POST /api/chat`, and the generation core the
//! OpenAI-compatible chat endpoint shares.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    cut_connection, dropped, json, keep_alive, model_delay, ndjson, now, parse, streaming, ApiError,
};
use crate::catalog::{Capability, CatalogModel};
use crate::fake::FakeOllama;
use crate::fault::InferenceFault;
use crate::name::ModelName;
use crate::state::KeepAlive;
use crate::text;

#[derive(Deserialize)]
struct GenerateRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    format: Option<Value>,
    #[serde(default)]
    options: Option<Map<String, Value>>,
    #[serde(default)]
    keep_alive: Option<Value>,
    #[serde(default)]
    think: Option<Value>,
}

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    format: Option<Value>,
    #[serde(default)]
    options: Option<Map<String, Value>>,
    #[serde(default)]
    keep_alive: Option<Value>,
    #[serde(default)]
    think: Option<Value>,
}

/// A chat message, native or OpenAI (content as a string, a list of
/// parts, or null).
#[derive(Deserialize, Clone)]
pub(super) struct Message {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub content: Option<Value>,
}

impl Message {
    /// The text of the message; text parts joined.
    pub fn text(&self) -> String {
        match &self.content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    }
}

/// What the model will say, decided before anything is sent.
pub(super) struct Plan {
    pub tokens: Vec<String>,
    /// Native tool calls: `{"id", "function": {"index", "name", "arguments"}}`.
    pub tool_calls: Vec<Value>,
    /// `stop` or `length`.
    pub done_reason: &'static str,
    pub prompt_tokens: u64,
    pub fault: Option<InferenceFault>,
    pub token_delay: Duration,
    pub started: Instant,
}

impl Plan {
    pub fn eval_count(&self) -> u64 {
        self.tokens.len() as u64 + self.tool_calls.len() as u64
    }

    /// Ollama's timing fields, from the real elapsed time.
    pub fn stats(&self) -> Map<String, Value> {
        let eval = self.eval_count();
        let total = self.started.elapsed().as_nanos() as u64;
        let mut m = Map::new();
        m.insert("total_duration".into(), json!(total.max(1)));
        m.insert("load_duration".into(), json!(1_000_000u64));
        m.insert("prompt_eval_count".into(), json!(self.prompt_tokens));
        m.insert(
            "prompt_eval_duration".into(),
            json!(self.prompt_tokens * 100_000),
        );
        m.insert("eval_count".into(), json!(eval));
        m.insert("eval_duration".into(), json!(eval * 1_000_000));
        m
    }
}

/// One step of a generation as it streams.
pub(super) enum Piece {
    Token(String),
    ToolCalls(Vec<Value>),
    Done,
    /// An error after streaming began; nothing follows.
    Error(String),
    /// The connection is cut.
    Drop,
}

/// The stream of a plan: tokens (paced by the token delay), tool calls,
/// done, with the fault cutting in after its chunk count.
pub(super) fn pieces(plan: &Plan) -> impl Stream<Item = Piece> + Send + 'static {
    let mut chunks: Vec<Piece> = plan.tokens.iter().cloned().map(Piece::Token).collect();
    if !plan.tool_calls.is_empty() {
        chunks.push(Piece::ToolCalls(plan.tool_calls.clone()));
    }
    let fault = plan.fault.clone();
    let delay = plan.token_delay;
    async_stream::stream! {
        for (i, chunk) in chunks.into_iter().enumerate() {
            if let Some(end) = fault_at(&fault, i) {
                yield end.await;
                return;
            }
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            yield chunk;
        }
        if let Some(end) = fault_at(&fault, usize::MAX) {
            yield end.await;
            return;
        }
        yield Piece::Done;
    }
}

/// The piece that ends a faulted stream once `sent` chunks went out.
/// Before a cut, what was sent gets time to reach the client.
fn fault_at(
    fault: &Option<InferenceFault>,
    sent: usize,
) -> Option<impl std::future::Future<Output = Piece>> {
    let end = match fault {
        Some(InferenceFault::ErrorAfter { chunks, message }) if sent >= *chunks as usize => {
            Piece::Error(message.clone())
        }
        Some(InferenceFault::DropAfter { chunks }) if sent >= *chunks as usize => Piece::Drop,
        _ => return None,
    };
    Some(async move {
        if matches!(end, Piece::Drop) {
            super::before_cut().await;
        }
        end
    })
}

/// What a request wants from the model.
pub(super) struct Ask<'a> {
    /// The model as the client wrote it (echoed in responses and errors).
    pub raw: &'a str,
    /// `generate` or `chat`, for the capability error.
    pub verb: &'static str,
    pub tools: &'a [Value],
    pub think: Option<&'a Value>,
}

/// The installed model a generation request names: 404 when it is not
/// there.
pub(super) async fn find_installed(fake: &FakeOllama, raw: &str) -> Result<CatalogModel, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "model is required"));
    }
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("model {raw:?} not found, try pulling it first"),
        )
    };
    let name = ModelName::parse(raw).map_err(|_| not_found())?;
    model_delay(fake, &name.key()).await;
    let installed = fake
        .lock()
        .installed
        .get(&name.key())
        .map(|i| i.model.clone());
    installed.ok_or_else(not_found)
}

/// Capability checks and the runner fault, in Ollama's order.
pub(super) fn admit(
    fake: &FakeOllama,
    model: &CatalogModel,
    ask: &Ask<'_>,
) -> Result<Option<InferenceFault>, ApiError> {
    let thinks = ask
        .think
        .is_some_and(|t| t.as_bool() != Some(false) && !t.is_null());
    if thinks && !model.can(Capability::Thinking) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{:?} does not support thinking", ask.raw),
        ));
    }
    if !model.can(Capability::Completion) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{:?} does not support {}", ask.raw, ask.verb),
        ));
    }
    if !ask.tools.is_empty() && !model.can(Capability::Tools) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{} does not support tools", model.name.fully_qualified()),
        ));
    }
    let fault = fake.lock().fire_generate(&model.name.key());
    match fault {
        Some(InferenceFault::Reject(f)) => Err(ApiError::from_code(f.status, f.message)),
        other => Ok(other),
    }
}

/// What the reply is to: the prompt (or last message) and the options
/// that shape the answer.
pub(super) struct Want<'a> {
    pub input: &'a str,
    /// `format` / `response_format`: `"json"` or a JSON schema.
    pub format: Option<&'a Value>,
    /// Ollama's `num_predict` (OpenAI's `max_tokens`); only > 0 bounds.
    pub num_predict: Option<i64>,
    /// Tools the model may call.
    pub tools: &'a [Value],
}

/// Decides the reply.
pub(super) fn plan(
    fake: &FakeOllama,
    model: &CatalogModel,
    want: Want<'_>,
    fault: Option<InferenceFault>,
    started: Instant,
) -> Plan {
    let input = want.input;
    let tool_calls = tool_calls(want.tools, input);
    let mut tokens = if !tool_calls.is_empty() {
        Vec::new()
    } else if let Some(doc) = text::structured(want.format, input) {
        text::json_tokens(&doc)
    } else {
        text::echo_tokens(input)
    };
    let mut done_reason = "stop";
    if let Some(n) = want.num_predict.filter(|n| *n > 0) {
        if tokens.len() as i64 > n {
            tokens.truncate(n as usize);
            done_reason = "length";
        }
    }
    Plan {
        tokens,
        tool_calls,
        done_reason,
        prompt_tokens: text::count_tokens(input),
        fault,
        token_delay: fake.lock().token_delay(&model.name.key()),
        started,
    }
}

/// Calls every offered tool whose name the input mentions, in the order
/// offered.
fn tool_calls(tools: &[Value], input: &str) -> Vec<Value> {
    tools
        .iter()
        .filter_map(|t| t.get("function"))
        .filter_map(|f| Some((f.get("name")?.as_str()?, f)))
        .filter(|(name, _)| !name.is_empty() && input.contains(name))
        .enumerate()
        .map(|(index, (name, f))| {
            let arguments = f
                .get("parameters")
                .map(|p| text::instance(p, input))
                .unwrap_or_else(|| json!({}));
            json!({
                "id": text::call_id(&format!("{index} {name} {input}")),
                "function": { "index": index, "name": name, "arguments": arguments },
            })
        })
        .collect()
}

fn num_predict(options: &Option<Map<String, Value>>) -> Option<i64> {
    options.as_ref()?.get("num_predict")?.as_i64()
}

pub(super) async fn generate(
    State(fake): State<FakeOllama>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let req: GenerateRequest = parse(&body)?;
    let model = find_installed(&fake, &req.model).await?;
    let key = model.name.key();
    let keep = keep_alive(req.keep_alive.as_ref())?;
    let unload_now = keep == KeepAlive::For(Duration::ZERO);
    if req.prompt.is_empty() && req.keep_alive.is_some() && unload_now {
        fake.lock().loaded.remove(&key);
        return Ok(json(json!({
            "model": req.model, "created_at": now(), "response": "",
            "done": true, "done_reason": "unload",
        })));
    }
    let ask = Ask {
        raw: &req.model,
        verb: "generate",
        tools: &[],
        think: req.think.as_ref(),
    };
    let fault = admit(&fake, &model, &ask)?;
    fake.lock().load(&key, keep);
    if req.prompt.is_empty() {
        return Ok(json(json!({
            "model": req.model, "created_at": now(), "response": "",
            "done": true, "done_reason": "load",
        })));
    }
    let want = Want {
        input: &req.prompt,
        format: req.format.as_ref(),
        num_predict: num_predict(&req.options),
        tools: &[],
    };
    let plan = plan(&fake, &model, want, fault, started);
    let context: Vec<u64> = (1..=plan.prompt_tokens + plan.eval_count()).collect();

    if req.stream == Some(false) {
        return Ok(match collect(&plan).await {
            Collected::Done => {
                let mut out = Map::new();
                out.insert("model".into(), json!(req.model));
                out.insert("created_at".into(), json!(now()));
                out.insert("response".into(), json!(plan.tokens.concat()));
                out.insert("done".into(), json!(true));
                out.insert("done_reason".into(), json!(plan.done_reason));
                out.insert("context".into(), json!(context));
                out.extend(plan.stats());
                json(Value::Object(out))
            }
            Collected::Error(message) => super::error(StatusCode::INTERNAL_SERVER_ERROR, message),
            Collected::Drop => cut_connection(),
        });
    }

    let model_name = req.model.clone();
    let body = pieces(&plan).map(move |piece| match piece {
        Piece::Token(t) => Ok(ndjson(&json!({
            "model": model_name, "created_at": now(), "response": t, "done": false,
        }))),
        Piece::ToolCalls(_) => Ok(Bytes::new()),
        Piece::Done => {
            let mut out = Map::new();
            out.insert("model".into(), json!(model_name));
            out.insert("created_at".into(), json!(now()));
            out.insert("response".into(), json!(""));
            out.insert("done".into(), json!(true));
            out.insert("done_reason".into(), json!(plan.done_reason));
            out.insert("context".into(), json!(context));
            out.extend(plan.stats());
            Ok(ndjson(&Value::Object(out)))
        }
        Piece::Error(message) => Ok(ndjson(&json!({ "error": message }))),
        Piece::Drop => Err(dropped()),
    });
    Ok(streaming("application/x-ndjson", body))
}

pub(super) async fn chat(
    State(fake): State<FakeOllama>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let req: ChatRequest = parse(&body)?;
    let model = find_installed(&fake, &req.model).await?;
    let key = model.name.key();
    let keep = keep_alive(req.keep_alive.as_ref())?;
    let unload_now = keep == KeepAlive::For(Duration::ZERO);
    if req.messages.is_empty() && req.keep_alive.is_some() && unload_now {
        fake.lock().loaded.remove(&key);
        return Ok(json(json!({
            "model": req.model, "created_at": now(),
            "message": { "role": "assistant", "content": "" },
            "done": true, "done_reason": "unload",
        })));
    }
    let ask = Ask {
        raw: &req.model,
        verb: "chat",
        tools: &req.tools,
        think: req.think.as_ref(),
    };
    let fault = admit(&fake, &model, &ask)?;
    fake.lock().load(&key, keep);
    if req.messages.is_empty() {
        return Ok(json(json!({
            "model": req.model, "created_at": now(),
            "message": { "role": "assistant", "content": "" },
            "done": true, "done_reason": "load",
        })));
    }
    let (input, tools) = chat_input(&req.messages, &req.tools);
    let want = Want {
        input: &input,
        format: req.format.as_ref(),
        num_predict: num_predict(&req.options),
        tools,
    };
    let plan = plan(&fake, &model, want, fault, started);

    if req.stream == Some(false) {
        return Ok(match collect(&plan).await {
            Collected::Done => {
                let mut message = json!({ "role": "assistant", "content": plan.tokens.concat() });
                if !plan.tool_calls.is_empty() {
                    message["tool_calls"] = json!(plan.tool_calls);
                }
                let mut out = Map::new();
                out.insert("model".into(), json!(req.model));
                out.insert("created_at".into(), json!(now()));
                out.insert("message".into(), message);
                out.insert("done".into(), json!(true));
                out.insert("done_reason".into(), json!(plan.done_reason));
                out.extend(plan.stats());
                json(Value::Object(out))
            }
            Collected::Error(message) => super::error(StatusCode::INTERNAL_SERVER_ERROR, message),
            Collected::Drop => cut_connection(),
        });
    }

    let model_name = req.model.clone();
    let body = pieces(&plan).map(move |piece| {
        let chunk = |message: Value| {
            ndjson(&json!({
                "model": model_name, "created_at": now(), "message": message, "done": false,
            }))
        };
        match piece {
            Piece::Token(t) => Ok(chunk(json!({ "role": "assistant", "content": t }))),
            Piece::ToolCalls(calls) => Ok(chunk(json!({
                "role": "assistant", "content": "", "tool_calls": calls,
            }))),
            Piece::Done => {
                let mut out = Map::new();
                out.insert("model".into(), json!(model_name));
                out.insert("created_at".into(), json!(now()));
                out.insert(
                    "message".into(),
                    json!({ "role": "assistant", "content": "" }),
                );
                out.insert("done".into(), json!(true));
                out.insert("done_reason".into(), json!(plan.done_reason));
                out.extend(plan.stats());
                Ok(ndjson(&Value::Object(out)))
            }
            Piece::Error(message) => Ok(ndjson(&json!({ "error": message }))),
            Piece::Drop => Err(dropped()),
        }
    });
    Ok(streaming("application/x-ndjson", body))
}

/// What a chat replies to: the last message. Tools are offered only when
/// the user spoke last (after a tool result the model answers in text).
pub(super) fn chat_input<'a>(messages: &[Message], tools: &'a [Value]) -> (String, &'a [Value]) {
    match messages.last() {
        Some(last) if last.role == "user" => (last.text(), tools),
        Some(last) => (last.text(), &[]),
        None => (String::new(), &[]),
    }
}

/// How a non-streaming generation ended.
pub(super) enum Collected {
    Done,
    Error(String),
    Drop,
}

/// Runs a plan to its end without streaming it (delays and faults apply).
pub(super) async fn collect(plan: &Plan) -> Collected {
    let mut stream = std::pin::pin!(pieces(plan));
    while let Some(piece) = stream.next().await {
        match piece {
            Piece::Error(message) => return Collected::Error(message),
            Piece::Drop => return Collected::Drop,
            _ => {}
        }
    }
    Collected::Done
}
