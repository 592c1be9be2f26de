//! `POST /execute`: one LLM call a service can depend on. A RunConfig
//! names a profile (or a routable model), gives the prompt, and may give a
//! JSON schema; the answer is an object whose `content` is a string (the
//! validated JSON text when a schema was given), or a structured,
//! secret-free error whose `kind` the caller can act on.
//!
//! The same engine checks `/v1/chat/completions` answers in strict mode.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use crate::admission::{admit, debug_on, flag};
use crate::attempt::{estimate_prompt_tokens, Attempt};
use crate::backend::Endpoint;
use crate::error::ApiError;
use crate::record::{printable, Record};
use crate::relay::{finish, Answer};
use crate::schema::{self, Schema};
use crate::table::{Route, Table};

/// The error kinds of the contract, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidRequest,
    Unauthorized,
    ProfileError,
    ConfigurationError,
    Timeout,
    ProviderError,
    SchemaError,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::InvalidRequest => "invalid_request",
            Kind::Unauthorized => "unauthorized",
            Kind::ProfileError => "profile_error",
            Kind::ConfigurationError => "configuration_error",
            Kind::Timeout => "timeout",
            Kind::ProviderError => "provider_error",
            Kind::SchemaError => "schema_error",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Kind::InvalidRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::ProfileError => StatusCode::NOT_FOUND,
            Kind::ConfigurationError => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Kind::ProviderError => StatusCode::BAD_GATEWAY,
            Kind::SchemaError => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// One try of one target, as the caller sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptReport {
    pub target: String,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    pub latency_ms: u64,
}

/// A failed call: its kind, what happened, and every attempt.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub target: Option<String>,
    pub attempts: Vec<AttemptReport>,
}

impl Failure {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            target: None,
            attempts: Vec::new(),
        }
    }

    fn body(&self) -> Value {
        json!({"error": {
            "kind": self.kind.as_str(),
            "message": self.message,
            "target": self.target,
            "attempts": self.attempts,
        }})
    }
}

/// A good answer.
pub struct Success {
    /// The upstream's chat completion (OpenAI's shape).
    pub answer: Value,
    pub content: String,
    pub target: String,
    pub attempts: Vec<AttemptReport>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The RunConfig: what a caller sends to `/execute`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunConfig {
    model_name: String,
    #[serde(alias = "system_prompt")]
    system: Option<String>,
    #[serde(alias = "user_prompt")]
    prompt: Option<String>,
    messages: Option<Vec<Value>>,
    temperature: Option<f64>,
    max_tokens: Option<u64>,
    max_depth: Option<u32>,
    /// Seconds: the whole call's budget, instead of the profile's.
    timeout: Option<f64>,
    #[serde(default)]
    model_params: Map<String, Value>,
}

/// Request fields `model_params` may not set: the router's own.
const RESERVED: &[&str] = &[
    "model",
    "messages",
    "stream",
    "response_format",
    "tools",
    "tool_choice",
];

pub async fn handle(
    State(table): State<Arc<Table>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: Request,
) -> Response {
    let record = Record::start(table.clone(), request.headers());
    let span = record.span.clone();
    strict(table, peer, request, record).instrument(span).await
}

async fn strict(
    table: Arc<Table>,
    peer: std::net::SocketAddr,
    request: Request,
    mut record: Record,
) -> Response {
    let (headers, bytes) = match admit(&table, peer, request, &mut record).await {
        Ok(admitted) => admitted,
        Err(error) => {
            let kind = if error.status == StatusCode::UNAUTHORIZED {
                Kind::Unauthorized
            } else {
                Kind::InvalidRequest
            };
            return refuse(record, Failure::new(kind, error.message));
        }
    };
    let begun = Instant::now();
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    let run: RunConfig = match serde_path_to_error::deserialize(de) {
        Ok(run) => run,
        Err(err) => {
            let path = err.path().to_string();
            let message = format!("{path}: {}", err.into_inner());
            return refuse(record, Failure::new(Kind::InvalidRequest, message));
        }
    };
    record.model = printable(&run.model_name);
    let Some(route) = table.resolve(&run.model_name) else {
        return refuse(
            record,
            Failure::new(
                Kind::ProfileError,
                format!(
                    "no profile or route is named `{}`; GET /v1/models lists them",
                    printable(&run.model_name)
                ),
            ),
        );
    };
    record.route.clone_from(&route.model);
    // Under a pattern route (`*`, `llama*`), the upstream model is the
    // requested name unless a target names one.
    let requested = run.model_name.clone();
    let (body, schema, budget) = match prepare(run, route) {
        Ok(prepared) => prepared,
        Err(failure) => return refuse(record, failure),
    };
    let deadline = tokio::time::Instant::from_std(begun) + budget;
    let debug = debug_on(&table, &headers);
    let outcome = structured(
        &table,
        route,
        &requested,
        body,
        schema.as_ref(),
        deadline,
        debug.then_some(record.id.as_str()),
    )
    .await;
    match outcome {
        Ok(success) => {
            record.target.clone_from(&success.target);
            record.status = "200".to_owned();
            record.prompt_tokens = Some(success.prompt_tokens);
            record.completion_tokens = Some(success.completion_tokens);
            let body = json!({
                "content": success.content,
                "model": requested,
                "target": success.target,
                "upstream_model": success.answer.get("model"),
                "usage": {
                    "prompt_tokens": success.prompt_tokens,
                    "completion_tokens": success.completion_tokens,
                    "total_tokens": success.prompt_tokens + success.completion_tokens,
                },
                "latency_ms": begun.elapsed().as_millis() as u64,
                "attempts": success.attempts,
                "request_id": record.id,
            });
            let id = record.id.clone();
            drop(record);
            let mut response = Json(body).into_response();
            if let Ok(value) = id.parse() {
                response.headers_mut().insert("x-request-id", value);
            }
            response
        }
        Err(failure) => {
            if let Some(target) = &failure.target {
                record.target.clone_from(target);
            }
            refuse(record, failure)
        }
    }
}

fn refuse(mut record: Record, failure: Failure) -> Response {
    record.status = failure.kind.status().as_u16().to_string();
    record.error = Some(format!("{}: {}", failure.kind.as_str(), failure.message));
    let mut response = (failure.kind.status(), Json(failure.body())).into_response();
    if let Ok(value) = record.id.parse() {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The chat request, the schema and the budget for a RunConfig.
fn prepare(run: RunConfig, route: &Route) -> Result<(Value, Option<Schema>, Duration), Failure> {
    let invalid = |message: String| Failure::new(Kind::InvalidRequest, message);
    let mut messages = Vec::new();
    if let Some(system) = run.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    if let Some(list) = run.messages {
        messages.extend(list);
    }
    if let Some(prompt) = run.prompt {
        messages.push(json!({"role": "user", "content": prompt}));
    }
    if !messages
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    {
        return Err(invalid(
            "no prompt: give `prompt`, or `messages` with a user message".into(),
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(run.model_name.clone()));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), Value::Bool(false));
    if let Some(t) = run.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(invalid(format!("temperature: {t} is not between 0 and 2")));
        }
        body.insert("temperature".into(), t.into());
    }
    if let Some(n) = run.max_tokens {
        if n == 0 {
            return Err(invalid("max_tokens: must be at least 1".into()));
        }
        body.insert("max_tokens".into(), n.into());
    }
    let mut params = run.model_params;
    let schema = match params.remove("json_schema") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            Schema::compile(unwrap_schema(value))
                .map_err(|e| invalid(format!("model_params.json_schema: {e}")))?,
        ),
    };
    if let Some(effort) = params.remove("reasoning_effort") {
        match effort.as_str().and_then(crate::config::ReasoningEffort::parse) {
            Some(effort) => {
                body.insert("reasoning_effort".into(), effort.as_str().into());
            }
            None if effort.is_null() => {}
            None => {
                return Err(invalid(format!(
                    "model_params.reasoning_effort: {effort} is not one of none, minimal, low, medium, high"
                )))
            }
        }
    }
    for (key, value) in params {
        if RESERVED.contains(&key.as_str()) {
            return Err(invalid(format!("model_params.{key}: is set by the router")));
        }
        body.insert(key, value);
    }
    // Tool rounds are the caller's to run; the bound is checked, not used.
    let max_depth = run
        .max_depth
        .or(route.profile.as_ref().and_then(|p| p.max_depth));
    if max_depth == Some(0) {
        return Err(invalid("max_depth: must be at least 1".into()));
    }
    if let Some(profile) = &route.profile {
        crate::profile::apply(profile, &mut body);
    }
    let budget = match run.timeout {
        None => route.budget,
        Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 3600.0 => {
            Duration::from_secs_f64(secs)
        }
        Some(secs) => {
            return Err(invalid(format!(
                "timeout: {secs} is not between 0 and 3600 seconds"
            )))
        }
    };
    Ok((Value::Object(body), schema, budget))
}

/// `{"name": ..., "schema": {...}}` (OpenAI's `json_schema` wrapper) or the
/// schema itself.
fn unwrap_schema(value: Value) -> Value {
    match value {
        Value::Object(mut fields)
            if fields.get("schema").is_some_and(Value::is_object)
                && !fields.contains_key("type")
                && !fields.contains_key("properties") =>
        {
            fields.remove("schema").expect("checked")
        }
        other => other,
    }
}

/// Whether a chat completions request is checked against its schema:
/// it asks for `json_schema` output, and its profile is strict or it sent
/// `x-hwc-ai-strict-schema: 1`.
pub fn wants_strict(route: &Route, headers: &HeaderMap, body: &Value) -> bool {
    let asked = body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        == Some("json_schema");
    let strict = route.profile.as_ref().is_some_and(|p| p.strict_schema)
        || flag(headers, "x-hwc-ai-strict-schema");
    asked && strict
}

/// `/v1/chat/completions` in strict mode: the answer is checked (and
/// repaired) like `/execute`'s, and comes back as a chat completion whose
/// content is the validated JSON.
pub async fn chat_strict(
    table: &Arc<Table>,
    route: &Route,
    mut body: Value,
    mut record: Record,
    begun: Instant,
    deadline: tokio::time::Instant,
    debug: bool,
) -> Response {
    let schema = body
        .pointer("/response_format/json_schema/schema")
        .cloned()
        .ok_or("response_format.json_schema.schema is missing")
        .and_then(|s| {
            Schema::compile(s)
                .map_err(|_| "response_format.json_schema.schema is not a usable JSON schema")
        });
    let schema = match schema {
        Ok(schema) => schema,
        Err(message) => return record.refuse(ApiError::bad_request(message)),
    };
    if let Some(fields) = body.as_object_mut() {
        fields.remove("response_format");
    }
    let id = record.id.clone();
    let requested = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(&route.model)
        .to_owned();
    match structured(
        table,
        route,
        &requested,
        body,
        Some(&schema),
        deadline,
        debug.then_some(id.as_str()),
    )
    .await
    {
        Ok(success) => {
            record.target.clone_from(&success.target);
            record.status = "200".to_owned();
            record.prompt_tokens = Some(success.prompt_tokens);
            record.completion_tokens = Some(success.completion_tokens);
            let mut answer = success.answer;
            if let Some(message) = answer
                .pointer_mut("/choices/0/message")
                .and_then(Value::as_object_mut)
            {
                message.insert("content".into(), Value::String(success.content));
                message.remove("tool_calls");
            }
            if let Some(choice) = answer
                .pointer_mut("/choices/0")
                .and_then(Value::as_object_mut)
            {
                choice.insert("finish_reason".into(), "stop".into());
            }
            drop(record);
            let response = Json(answer).into_response();
            finish(response, table, begun, Duration::ZERO, &id)
        }
        Err(failure) => {
            let code = match failure.kind {
                Kind::SchemaError => "schema_error",
                Kind::Timeout => "upstream_timeout",
                _ => "upstream_error",
            };
            let mut message = failure.message.clone();
            if let Some(last) = failure
                .attempts
                .last()
                .filter(|a| !a.validation_errors.is_empty())
            {
                message = format!("{message}: {}", last.validation_errors.join("; "));
            }
            if let Some(target) = &failure.target {
                record.target.clone_from(target);
            }
            let kind = if failure.kind == Kind::SchemaError {
                "invalid_response_error"
            } else {
                "api_error"
            };
            record.refuse(ApiError::new(failure.kind.status(), kind, code, message))
        }
    }
}

/// Tries the route's targets in the order the balancer plans (config
/// order, or within a balanced tier: the hosts that have the model, the
/// one with it loaded, the least busy); on each, re-asks with the
/// validation errors up to the route's repair bound. The whole call stays
/// within `deadline`.
pub async fn structured(
    table: &Table,
    route: &Route,
    requested: &str,
    base: Value,
    schema: Option<&Schema>,
    deadline: tokio::time::Instant,
    debug: Option<&str>,
) -> Result<Success, Failure> {
    let mut attempts: Vec<AttemptReport> = Vec::new();
    let (mut prompt_tokens, mut completion_tokens) = (0u64, 0u64);
    let mut last_kind = Kind::ProviderError;
    let mut schema_failed = false;
    let mut budget_out = false;
    let prompt_estimate = estimate_prompt_tokens(&base);
    let plan = crate::balance::plan(table, route, requested, None);
    'targets: for &(index, reason) in &plan {
        let target = &route.targets[index];
        let backend = &table.backends[target.backend];
        let mut body = base.clone();
        for repair in 0..=route.schema_repairs {
            let mut sent = body.clone();
            let forced = match (schema, sent.as_object_mut()) {
                (Some(schema), Some(fields)) => {
                    schema::shape(fields, &schema.value, backend.kind, backend.schema_format)
                }
                _ => false,
            };
            let attempt = Attempt {
                table,
                route,
                target,
                endpoint: Endpoint::ChatCompletions,
                stream: false,
                requested,
                prompt_tokens: prompt_estimate,
                deadline,
                debug,
                traceparent: None,
            };
            let started = Instant::now();
            let mut waited = Duration::ZERO;
            let span = tracing::debug_span!("attempt", target.id = %target.id, repair);
            let result = attempt.run(&mut sent, &mut waited).instrument(span).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let mut report =
                |outcome: &'static str, message: Option<String>, errors: Vec<String>| {
                    attempts.push(AttemptReport {
                        target: target.id.clone(),
                        outcome,
                        message,
                        validation_errors: errors,
                        latency_ms,
                    });
                };
            let (status, bytes) = match result {
                Err((error, reason)) => {
                    let kind = match reason {
                        "timeout" => Kind::Timeout,
                        "status_auth" => Kind::ConfigurationError,
                        _ => Kind::ProviderError,
                    };
                    if error.message.contains("budget") {
                        budget_out = true;
                    }
                    last_kind = kind;
                    report(kind.as_str(), Some(error.message), Vec::new());
                    if budget_out {
                        break 'targets;
                    }
                    continue 'targets;
                }
                Ok(Answer::Whole { status, body, .. }) => (status, body),
                Ok(Answer::Stream { .. }) => unreachable!("asked without streaming"),
            };
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if let Some(usage) = answer.get("usage") {
                prompt_tokens += usage["prompt_tokens"].as_u64().unwrap_or(0);
                completion_tokens += usage["completion_tokens"].as_u64().unwrap_or(0);
            }
            if !status.is_success() {
                // Already redacted: a provider's error body can quote keys.
                let said = answer
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .map_or_else(String::new, |m| format!(": {m}"));
                last_kind = Kind::ProviderError;
                report(
                    Kind::ProviderError.as_str(),
                    Some(format!("target `{}` answered {status}{said}", target.id)),
                    Vec::new(),
                );
                continue 'targets;
            }
            let Some(content) = schema::content_of(&answer, forced) else {
                last_kind = Kind::ProviderError;
                report(
                    Kind::ProviderError.as_str(),
                    Some(format!("target `{}` answered without content", target.id)),
                    Vec::new(),
                );
                continue 'targets;
            };
            let Some(schema) = schema else {
                report("ok", None, Vec::new());
                crate::balance::answered(table, route, target, requested, reason, None);
                return Ok(Success {
                    answer,
                    content,
                    target: target.id.clone(),
                    attempts,
                    prompt_tokens,
                    completion_tokens,
                });
            };
            let labels = |result: &str| {
                vec![
                    ("route", route.model.clone()),
                    ("target", target.id.clone()),
                    ("result", result.to_owned()),
                ]
            };
            match schema.check(&content) {
                Ok(value) => {
                    table
                        .metrics
                        .schema_checks
                        .get_or_create(&labels("valid"))
                        .inc();
                    report("ok", None, Vec::new());
                    crate::balance::answered(table, route, target, requested, reason, None);
                    return Ok(Success {
                        answer,
                        content: value.to_string(),
                        target: target.id.clone(),
                        attempts,
                        prompt_tokens,
                        completion_tokens,
                    });
                }
                Err(errors) => {
                    table
                        .metrics
                        .schema_checks
                        .get_or_create(&labels("invalid"))
                        .inc();
                    schema_failed = true;
                    last_kind = Kind::SchemaError;
                    tracing::debug!(target = %target.id, repair, "answer failed its schema: {}", errors.join("; "));
                    let turns = schema::repair_turns(&content, &errors);
                    report(
                        Kind::SchemaError.as_str(),
                        Some(format!(
                            "target `{}` answered JSON that does not match the schema",
                            target.id
                        )),
                        errors,
                    );
                    if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
                        messages.extend(turns);
                    }
                }
            }
        }
    }
    let kind = if budget_out {
        Kind::Timeout
    } else if schema_failed {
        Kind::SchemaError
    } else {
        last_kind
    };
    let message = match kind {
        Kind::Timeout if budget_out => format!(
            "the budget for `{}` ran out after {} attempt(s)",
            route.model,
            attempts.len()
        ),
        Kind::SchemaError => format!(
            "no target of `{}` answered JSON that matches the schema ({} attempt(s), {} repair(s) per target)",
            route.model,
            attempts.len(),
            route.schema_repairs
        ),
        _ => format!(
            "every target of `{}` failed; the last: {}",
            route.model,
            attempts.last().and_then(|a| a.message.clone()).unwrap_or_default()
        ),
    };
    Err(Failure {
        kind,
        message,
        target: attempts.last().map(|a| a.target.clone()),
        attempts,
    })
}
