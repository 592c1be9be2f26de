//! The daemon's HTTP side: the assistant as an OpenAI model
//! (`/v1/chat/completions`, `/v1/models`), sessions, `/v1/query` for chat
//! bots, the tools as an OpenAPI tool server, `/health` and `/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use hwc_ai_runtime::auth::{self, Clients, Refused};
use hwc_ai_runtime::cors;
use hwc_ai_runtime::http::{ApiErrorBody, JsonBody};

use crate::config::RateLimit;
use crate::engine::{AskError, Engine, Turn};
use crate::query::{self, QueryError, Transport};
use crate::sessions::{SessionError, Sessions};
use crate::tools::ToolName;

/// The model name clients ask for.
pub const MODEL: &str = "hwc-ai-assistant";

pub struct Shared {
    pub engine: Engine,
    pub sessions: Sessions,
    pub clients: Clients,
    pub limiter: Limiter,
    pub workflows: crate::workflows::Workflows,
}

/// The admitted client's name, for handlers.
pub(crate) use hwc_ai_runtime::auth::Client;

pub fn app(
    shared: Arc<Shared>,
    registry: Arc<prometheus_client::registry::Registry>,
    allowed_origins: &[String],
) -> Router {
    let protected = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/query", post(query))
        .route("/sessions", post(create_session))
        .route("/sessions/{id}", get(get_session).delete(delete_session))
        .route("/sessions/{id}/messages", post(session_message))
        .route("/tools/openapi.json", get(tools_spec))
        .route("/tools/{name}", post(call_tool))
        .merge(crate::workflows::api::routes())
        .layer(middleware::from_fn_with_state(shared.clone(), limit));
    // Outside the rate limit: the key names the client it counts.
    let protected = auth::protect(
        protected,
        auth::Gate::new(shared.clients.clone(), key_refused),
    );
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(protected)
        .with_state(shared)
        .merge(hwc_ai_runtime::http::metrics_routes(registry));
    cors::allow(app, &CORS, allowed_origins)
}

/// What Open WebUI's page sends when it calls the tool server from the
/// browser (the origins the operator named in `allowedOrigins`).
const CORS: cors::Cors<'static> = cors::Cors {
    methods: &[Method::GET, Method::POST, Method::DELETE],
    headers: &[],
    expose: &[],
};

/// The assistant's error: `{"error": {"type", "message"}}` with `status`.
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: String,
    pub(crate) message: String,
}

impl ApiErrorBody for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn body(&self) -> Value {
        json!({"error": {"type": self.kind, "message": self.message}})
    }
}

pub(crate) fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    ApiError {
        status,
        kind: kind.to_owned(),
        message: message.into(),
    }
    .response()
}

/// A missing key gets 401 with `WWW-Authenticate: Bearer`, a wrong one 403.
fn key_refused(refused: Refused) -> Response {
    match refused {
        Refused::Missing => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send a client key: Authorization: Bearer <key>",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        Refused::Wrong => error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the client key is not accepted",
        ),
    }
}

/// The client's rate limit (the key was checked by the layer outside).
async fn limit(
    State(shared): State<Arc<Shared>>,
    Extension(Client(name)): Extension<Client>,
    request: Request,
    next: Next,
) -> Response {
    // Static answers are not counted: Open WebUI fetches the model list
    // and the tool spec again on every page load and every chat with
    // tools, and a budget spent on those would make its tools vanish.
    let counted = !(request.method() == axum::http::Method::GET
        && matches!(
            request.uri().path(),
            "/v1/models" | "/tools/openapi.json" | "/workflows/openapi.json"
        ));
    let taken = if counted {
        shared.limiter.take(&name)
    } else {
        Ok(())
    };
    if let Err(wait) = taken {
        shared.engine.metrics.rate_limited(&name);
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        tracing::warn!(client = %name, path = %request.uri().path(), retry_after = secs,
            "rate limited: answered 429 (raise rateLimit if this client needs more)");
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from `{name}`; try again in {secs}s"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    next.run(request).await
}

/// A token bucket per client: `burst` at once, refilled at the rate.
pub struct Limiter {
    rate: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(rate: RateLimit) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&self, client: &str) -> Result<(), Duration> {
        let per_sec = f64::from(self.rate.requests_per_minute) / 60.0;
        let burst = f64::from(self.rate.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, at) = buckets.entry(client.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_sec))
        }
    }
}

fn ask_error(err: AskError) -> Response {
    match err {
        AskError::ModelUnavailable(_) => error(StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", err.to_string()),
        AskError::Audit(message) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "audit_unavailable",
            format!("nothing is answered without an audit record, and it could not be written: {message}"),
        ),
    }
}

async fn models() -> Json<Value> {
    Json(
        json!({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "hwc-ai"}]}),
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The OpenAI chat endpoint: the last user message is the question, the
/// turns before it the history. `stream: true` sends the answer as SSE.
async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    JsonBody(body): JsonBody<Value>,
) -> Response {
    let model = body["model"].as_str().unwrap_or(MODEL);
    if model != MODEL {
        return error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("this endpoint serves `{MODEL}` only, not `{model}`"),
        );
    }
    let mut turns: Vec<Turn> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let role = m["role"].as_str()?;
            let content = match &m["content"] {
                Value::String(s) => s.clone(),
                // Content parts: the text ones.
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => return None,
            };
            matches!(role, "user" | "assistant").then(|| Turn {
                role: role.into(),
                content,
            })
        })
        .collect();
    let Some(last) = turns.pop().filter(|t| t.role == "user") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "messages must end with a user message",
        );
    };
    let answer = match shared.engine.ask(&client, &last.content, &turns).await {
        Ok(answer) => answer,
        Err(err) => return ask_error(err),
    };
    let id = format!("chatcmpl-hwc-{}", unix_now());
    let created = unix_now();
    if body["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            )
        };
        let mut events = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        // Words in groups, so a client shows the answer as it "types".
        let words: Vec<&str> = answer.reply.split_inclusive(' ').collect();
        for group in words.chunks(8) {
            events.push(chunk(json!({"content": group.concat()}), Value::Null));
        }
        events.push(chunk(json!({}), json!("stop")));
        events.push("data: [DONE]\n\n".into());
        let stream =
            futures_util::stream::iter(events.into_iter().map(Ok::<_, std::convert::Infallible>));
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    Json(json!({
        "id": id, "object": "chat.completion", "created": created, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "hwc_ai": {"intent": answer.intent, "source": answer.source, "tools": answer.tools},
    }))
    .into_response()
}

/// For chat bots: `{text, source}` → `{reply, intent, action_taken}`;
/// the request id (the caller's `x-request-id`, or a new one) is in the
/// answer's `x-request-id`.
async fn query(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Response {
    let text = body["text"].as_str().unwrap_or_default();
    let source = body["source"].as_str();
    let id = query::request_id(headers.get(query::REQUEST_ID).map(|v| v.as_bytes()));
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    let mut response = answer_query(&shared, &id, traceparent, &client, source, text).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(query::REQUEST_ID, value);
    }
    response
}

async fn answer_query(
    shared: &Shared,
    id: &str,
    traceparent: Option<&str>,
    client: &str,
    source: Option<&str>,
    text: &str,
) -> Response {
    match query::answer(
        shared,
        Transport::Http,
        id,
        traceparent,
        client,
        source,
        text,
    )
    .await
    {
        Ok(answer) => Json(answer).into_response(),
        Err(QueryError::Ask(err)) => ask_error(err),
        Err(err) => {
            let (status, kind) = err.http();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            error(status, kind, err.to_string())
        }
    }
}

fn session_error(err: SessionError) -> Response {
    match err {
        SessionError::NotFound(_) => {
            error(StatusCode::NOT_FOUND, "session_not_found", err.to_string())
        }
        SessionError::Store(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "session_store",
            err.to_string(),
        ),
    }
}

async fn create_session(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
) -> Response {
    match shared.sessions.create(&client) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(err) => session_error(err),
    }
}

async fn get_session(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(id): Path<String>,
) -> Response {
    match shared.sessions.history(&client, &id) {
        Ok(turns) => Json(json!({"id": id, "messages": turns})).into_response(),
        Err(err) => session_error(err),
    }
}

async fn delete_session(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(id): Path<String>,
) -> Response {
    match shared.sessions.delete(&client, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => session_error(err),
    }
}

async fn session_message(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Response {
    let Some(text) = body["text"].as_str().filter(|t| !t.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`text` is required",
        );
    };
    let history = match shared.sessions.history(&client, &id) {
        Ok(history) => history,
        Err(err) => return session_error(err),
    };
    let answer = match shared.engine.ask(&client, text, &history).await {
        Ok(answer) => answer,
        Err(err) => return ask_error(err),
    };
    if let Err(err) = shared.sessions.append(&client, &id, text, &answer.reply) {
        return session_error(err);
    }
    Json(json!({"reply": answer.reply, "intent": answer.intent, "source": answer.source, "tools": answer.tools})).into_response()
}

/// The read-only tools as an OpenAPI tool server (Open WebUI).
async fn tools_spec(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for tool in shared.engine.tools.enabled() {
        paths.insert(
            // Relative to `servers` (/tools): Open WebUI ignores `servers`
            // and calls its connection URL (http://HOST:9434/tools) plus
            // the path.
            format!("/{}", tool.as_str()),
            json!({"post": {
                "operationId": tool.as_str(),
                "summary": tool.as_str(),
                "description": tool.description(),
                "requestBody": {"required": false, "content": {"application/json": {"schema": shared.engine.tools.parameters(*tool)}}},
                "responses": {"200": {"description": "The tool's data", "content": {"application/json": {"schema": {}}}}}
            }}),
        );
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "hwc-ai-assistant tools", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Read-only views of this machine: services, disks, load, containers, alerts, the AI stack, runbooks"},
        "servers": [{"url": "/tools"}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }))
}

async fn call_tool(
    State(shared): State<Arc<Shared>>,
    Extension(Client(client)): Extension<Client>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let arguments: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match hwc_ai_runtime::http::parse_json_body(&headers, &body) {
            Ok(v) => v,
            Err(rejection) => return rejection.into_response(),
        }
    };
    let Some(tool) = ToolName::parse(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_tool",
            format!("no tool `{name}`"),
        );
    };
    let result = shared
        .engine
        .tools
        .call(&name, &arguments)
        .await
        .map_err(|e| e.to_string());
    if let Err(err) = shared
        .engine
        .record_tool_call(&client, tool, &arguments, &result)
    {
        return ask_error(err);
    }
    match result {
        Ok(value) => Json(value).into_response(),
        Err(message) if message.starts_with("invalid arguments") => {
            error(StatusCode::BAD_REQUEST, "invalid_arguments", message)
        }
        Err(message) if message.contains("not enabled") => {
            error(StatusCode::FORBIDDEN, "tool_disabled", message)
        }
        Err(message) => error(StatusCode::SERVICE_UNAVAILABLE, "tool_unavailable", message),
    }
}
