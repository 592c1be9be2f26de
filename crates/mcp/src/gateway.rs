//! The gateway daemon: one supervised connection per declared server, a
//! health check per server on an interval, and the HTTP side: `/servers`,
//! `/mcp/{name}`, the OpenAPI bridge, `/health` and `/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State as AxumState};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rmcp::model::{CallToolRequestParams, ErrorCode, Tool};
use rmcp::service::ServiceError;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use hwc_ai_runtime::auth::{self, Clients, Refused};
use hwc_ai_runtime::cors;
use hwc_ai_runtime::http::ApiErrorBody;
use hwc_ai_runtime::{http, ConfigError, Context, Daemon, Shutdown};

use crate::config::{Config, ServerConfig};
use crate::metrics::{Metrics, Outcome};
use crate::openapi::{self, Section};
use crate::policy::Policy;
use crate::proxy::{self, Proxy};
use crate::upstream::{Connector, State, Upstream};
use crate::wrap;

pub struct Gateway;

impl Daemon for Gateway {
    const NAME: &'static str = "mcp";
    type Config = Config;

    async fn run(config: Config, ctx: Context) -> anyhow::Result<()> {
        let mut registry = hwc_ai_runtime::metrics::registry(Self::NAME);
        let metrics = Arc::new(Metrics::register(
            registry.sub_registry_with_prefix("hwc_ai_mcp"),
        ));
        let state = Arc::new(Gateway::build(&config, metrics, &ctx.shutdown)?);
        for server in &state.servers {
            tokio::spawn(watch(state.clone(), server.clone(), ctx.shutdown.clone()));
        }
        let listener = http::listener(ctx.listener, &config.listen).await?;
        let cancel = CancellationToken::new();
        let app = app(state.clone(), Arc::new(registry), cancel.clone());
        ctx.notify.ready(&format!(
            "serving {} MCP servers on {}",
            state.servers.len(),
            config.listen
        ));
        tracing::info!(listen = %config.listen, servers = state.servers.len(), "ready");
        let shutdown = ctx.shutdown.clone();
        tokio::spawn(async move {
            shutdown.wait().await;
            // Ends the open MCP event streams, so the drain is not held
            // open by clients that never hang up.
            cancel.cancel();
        });
        let served = http::serve(listener, app, ctx.shutdown, http::DEFAULT_DRAIN).await;
        // Let the supervisors stop their servers' process groups (SIGTERM,
        // then SIGKILL after the grace period), so none outlives the gateway.
        let stopped = futures_util::future::join_all(
            state.servers.iter().map(|s| s.proxy.upstream.stopped()),
        );
        if tokio::time::timeout(Duration::from_secs(5), stopped)
            .await
            .is_err()
        {
            tracing::warn!("some MCP servers did not stop within 5s");
        }
        served
    }
}

/// Everything the handlers share.
pub struct Shared {
    servers: Vec<Arc<Server>>,
    by_name: HashMap<String, Arc<Server>>,
    clients: Clients,
    metrics: Arc<Metrics>,
    allowed_origins: Vec<String>,
    allowed_hosts: Vec<String>,
    check_interval: Duration,
    check_timeout: Duration,
    call_timeout: Duration,
    max_body_bytes: usize,
}

pub struct Server {
    config: ServerConfig,
    upstream: Arc<Upstream>,
    policy: Arc<Policy>,
    proxy: Proxy,
    record: Mutex<Record>,
    /// Compiled input schemas, by tool, for the tool list they came from.
    validators: Mutex<(usize, HashMap<String, Arc<jsonschema::Validator>>)>,
}

/// What the last check found.
#[derive(Default)]
struct Record {
    checked: Option<SystemTime>,
    took: Option<Duration>,
    error: Option<String>,
    /// The wrapper's own count of server restarts, for `socket` servers.
    wrapper_restarts: u64,
}

impl Gateway {
    fn build(
        config: &Config,
        metrics: Arc<Metrics>,
        shutdown: &Shutdown,
    ) -> Result<Shared, ConfigError> {
        let clients = config.clients.load("clients")?;
        let mut servers = Vec::new();
        for (i, server) in config.servers.iter().enumerate() {
            let connector = Connector::new(server, &format!("servers[{i}]"))?;
            let upstream = Upstream::spawn(
                &server.name,
                connector,
                config.check_timeout,
                shutdown.child(),
            );
            let policy = Arc::new(Policy::new(server));
            metrics.declare(&server.name);
            servers.push(Arc::new(Server {
                config: server.clone(),
                proxy: Proxy {
                    upstream: upstream.clone(),
                    policy: Some(policy.clone()),
                    timeout: config.call_timeout,
                    metrics: Some(metrics.clone()),
                },
                upstream,
                policy,
                record: Mutex::new(Record::default()),
                validators: Mutex::new((0, HashMap::new())),
            }));
        }
        let by_name = servers
            .iter()
            .map(|s| (s.config.name.clone(), s.clone()))
            .collect();
        Ok(Shared {
            servers,
            by_name,
            clients,
            metrics,
            allowed_origins: config.allowed_origins.clone(),
            allowed_hosts: config.allowed_hosts.clone(),
            check_interval: config.check_interval,
            check_timeout: config.check_timeout,
            call_timeout: config.call_timeout,
            max_body_bytes: config.max_body_bytes,
        })
    }
}

/// Checks a server on the interval, when it comes up, and when it says
/// its tools changed (then tells connected clients).
async fn watch(shared: Arc<Shared>, server: Arc<Server>, shutdown: Shutdown) {
    loop {
        check(&shared, &server).await;
        let failed = server.record.lock().unwrap().error.is_some();
        tokio::select! {
            _ = tokio::time::sleep(shared.check_interval) => {}
            // A wrapped server that failed its check is checked again as
            // soon as its wrapper has it back.
            _ = wrapper_back(server.config.socket.as_deref()), if failed => {}
            _ = server.upstream.next_state(State::Up) => {}
            _ = server.upstream.next_state(State::Down) => {
                // Not a check: the supervisor saw the server go; the gauge
                // says so now, the next check says the rest.
                shared.metrics.checked_down(&server.config.name);
                tokio::select! {
                    _ = server.upstream.next_state(State::Up) => {}
                    _ = tokio::time::sleep(shared.check_interval) => {}
                    _ = shutdown.wait() => return,
                }
            }
            _ = server.upstream.tools_changed.notified() => {
                check(&shared, &server).await;
                server.upstream.notify_downstream().await;
            }
            _ = shutdown.wait() => return,
        }
    }
}

/// Resolves when the wrapper at `socket` says its server is up again.
async fn wrapper_back(socket: Option<&std::path::Path>) {
    let Some(socket) = socket else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if wrap::status(socket)
            .await
            .is_some_and(|s| s["state"] == "up")
        {
            return;
        }
    }
}

/// `initialize` (when there is no session) and `tools/list`, every page.
async fn check(shared: &Shared, server: &Server) {
    let started = Instant::now();
    let upstream = &server.upstream;
    if upstream.peer().is_err() {
        upstream.kick();
        let _ = tokio::time::timeout(shared.check_timeout, async {
            while upstream.status().state != State::Up {
                upstream.changed().await;
            }
        })
        .await;
    }
    let offers_tools = upstream.info().map(|i| i.capabilities.tools.is_some());
    let result = match offers_tools {
        Some(false) => {
            upstream.set_tools(Vec::new());
            Ok(Vec::new())
        }
        _ => upstream.list_tools(shared.check_timeout).await,
    };
    let wrapper = match &server.config.socket {
        Some(socket) => wrap::status(socket).await,
        None => None,
    };
    let took = started.elapsed();
    let name = &server.config.name;
    let (shown, error) = match result {
        Ok(tools) => (server.policy.filter(tools).0.len(), None),
        Err(err) => (0, Some(err.0)),
    };
    let mut record = server.record.lock().unwrap();
    match (&record.error, &error) {
        (None, Some(e)) => tracing::error!(server = %name, "check failed: {e}"),
        (Some(a), Some(b)) if a != b => tracing::error!(server = %name, "check failed: {b}"),
        (Some(_), None) => tracing::info!(server = %name, tools = shown, "up again"),
        (None, None) if record.checked.is_none() => {
            tracing::info!(server = %name, tools = shown, "up")
        }
        _ => {}
    }
    record.checked = Some(SystemTime::now());
    record.took = Some(took);
    record.error = error;
    if let Some(restarts) = wrapper.as_ref().and_then(|w| w["restarts"].as_u64()) {
        record.wrapper_restarts = restarts;
    }
    let up = record.error.is_none();
    let restarts = upstream.status().restarts + record.wrapper_restarts;
    drop(record);
    shared.metrics.checked(name, up, shown, took);
    shared.metrics.restarts(name, restarts);
}

impl Server {
    /// The `/servers` entry. A wrapped server's own state comes from its
    /// wrapper, live: the gateway's session to the wrapper outlives a
    /// crash of the server behind it.
    async fn entry(&self) -> Value {
        let wrapper = match &self.config.socket {
            Some(socket) => wrap::status(socket).await,
            None => None,
        };
        let mut entry = self.entry_now();
        if let Some(wrapper) = wrapper {
            if wrapper["state"] != "up" && entry["state"] == "up" {
                entry["state"] = wrapper["state"].clone();
                entry["lastError"] = wrapper["lastError"].clone();
            }
            entry["pid"] = wrapper["pid"].clone();
            if let Some(restarts) = wrapper["restarts"].as_u64() {
                let own = self.upstream.status().restarts;
                entry["restarts"] = json!(own + restarts);
            }
        } else if self.config.socket.is_some() && entry["state"] == "up" {
            entry["state"] = json!("down");
            entry["lastError"] = json!("the wrapper's socket does not answer");
        }
        entry
    }

    fn entry_now(&self) -> Value {
        let status = self.upstream.status();
        let record = self.record.lock().unwrap();
        let name = &self.config.name;
        let (state, error) = match (status.state, &record.error) {
            (State::Up, None) if record.checked.is_some() => ("up", None),
            (State::Up, None) => ("starting", None),
            (State::Up, Some(e)) => ("down", Some(e.clone())),
            (State::Starting, _) => ("starting", status.last_error.clone()),
            (State::Down, e) => ("down", status.last_error.clone().or(e.clone())),
        };
        let info = self.upstream.info();
        let all = self
            .upstream
            .tools()
            .map(|t| (*t).clone())
            .unwrap_or_default();
        let (tools, hidden) = self.policy.filter(all);
        let tools: Vec<Value> = tools.iter().map(tool_entry).collect();
        json!({
            "name": name,
            "transport": self.config.transport_name(),
            "state": state,
            "lastError": error,
            "protocolVersion": info.as_ref().map(|i| i.protocol_version.to_string()),
            "serverInfo": info.as_ref().and_then(|i| i.server_info.clone()),
            "instructions": info.as_ref().and_then(|i| i.instructions.clone()),
            "capabilities": info.as_ref().map(|i| i.capabilities.clone()),
            "tools": tools,
            "hiddenTools": hidden,
            "lastCheck": record.checked.map(|t| humantime::format_rfc3339_millis(t).to_string()),
            "checkDurationSeconds": record.took.map(|d| d.as_secs_f64()),
            "restarts": status.restarts + record.wrapper_restarts,
            "pid": status.pid,
            "endpoints": {
                "mcp": format!("/mcp/{name}"),
                "openapi": format!("/openapi/{name}/openapi.json"),
            },
        })
    }

    /// Why `arguments` do not fit `tool`'s input schema, if they do not.
    /// A schema this validator cannot compile lets the server judge.
    fn check_arguments(
        &self,
        tools: &Arc<Vec<Tool>>,
        tool: &Tool,
        arguments: &serde_json::Map<String, Value>,
    ) -> Option<String> {
        let instance = Value::Object(arguments.clone());
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            // A new listing (another Arc) invalidates what was compiled.
            let generation = Arc::as_ptr(tools) as usize;
            if cache.0 != generation {
                *cache = (generation, HashMap::new());
            }
            match cache.1.get(tool.name.as_ref()) {
                Some(v) => v.clone(),
                None => {
                    let schema = Value::Object((*tool.input_schema).clone());
                    let v = Arc::new(jsonschema::validator_for(&schema).ok()?);
                    cache.1.insert(tool.name.to_string(), v.clone());
                    v
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .take(5)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }

    /// The tools clients may see, listing them first if no check has yet.
    async fn shown_tools(&self, timeout: Duration) -> Result<Vec<Tool>, String> {
        let all = match self.upstream.tools() {
            Some(tools) => (*tools).clone(),
            None => self.upstream.list_tools(timeout).await.map_err(|e| e.0)?,
        };
        Ok(self.policy.filter(all).0)
    }
}

fn tool_entry(tool: &Tool) -> Value {
    json!({
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "annotations": tool.annotations,
        "inputSchema": tool.input_schema,
        "outputSchema": tool.output_schema,
    })
}

fn app(
    shared: Arc<Shared>,
    registry: Arc<prometheus_client::registry::Registry>,
    cancel: CancellationToken,
) -> Router {
    let mut protected = Router::new()
        .route("/servers", get(list_servers))
        .route("/servers/{name}", get(one_server))
        .route("/servers/{name}/check", post(check_now))
        .route("/.well-known/mcp.json", get(well_known))
        .route("/openapi.json", get(aggregate_spec))
        .route("/openapi/{name}/openapi.json", get(server_spec))
        .route(
            "/openapi/{name}/{tool}",
            post(call_tool).layer(DefaultBodyLimit::max(shared.max_body_bytes)),
        );
    for server in &shared.servers {
        let proxy = server.proxy.clone();
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(shared.allowed_hosts.clone())
            .with_cancellation_token(cancel.child_token());
        let service = StreamableHttpService::new(
            move || Ok(proxy.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let mcp = Router::new()
            .fallback_service(service)
            .layer(middleware::map_response(deleted_session_is_ok));
        protected = protected.nest(&format!("/mcp/{}", server.config.name), mcp);
    }
    let protected = auth::protect(
        protected,
        auth::Gate::new(shared.clients.clone(), key_refused),
    );
    let app = Router::new()
        .route("/health", get(health))
        .merge(protected)
        .with_state(shared.clone())
        .merge(http::metrics_routes(registry));
    let app = cors::allow(app, &CORS, &shared.allowed_origins);
    // Outermost: a page from another origin gets 403, its preflight too.
    cors::guard(app, &shared.allowed_origins, origin_refused)
}

/// rmcp answers a session's `DELETE` with 202; MCP's own SDKs expect 200
/// (or 204) and log anything else as a failed termination.
async fn deleted_session_is_ok(request_method: Method, mut response: Response) -> Response {
    if request_method == Method::DELETE && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

/// What a browser page may send: MCP's session headers on top of the
/// usual ones, and the session id it must read back.
const CORS: cors::Cors<'static> = cors::Cors {
    methods: &[Method::GET, Method::POST, Method::DELETE],
    headers: &["mcp-session-id", "mcp-protocol-version", "last-event-id"],
    expose: &["mcp-session-id"],
};

/// The gateway's error: `{"error": {"kind", "message"}}` with `status`.
struct GatewayError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiErrorBody for GatewayError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn body(&self) -> Value {
        json!({"error": {"kind": self.kind, "message": self.message}})
    }
}

/// `{"error": {"kind", "message"}}` with `status`.
fn error(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Response {
    GatewayError {
        status,
        kind,
        message: message.into(),
    }
    .response()
}

/// A browser page from an origin the operator did not name gets nothing
/// (MCP's transport rules; also what keeps a web page from driving tools
/// on a loopback gateway).
fn origin_refused(origin: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        format!("origin `{origin}` is not in allowedOrigins"),
    )
}

/// A missing key gets 401 with `WWW-Authenticate: Bearer`, a wrong one 403.
fn key_refused(refused: Refused) -> Response {
    match refused {
        Refused::Missing => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send a client key: Authorization: Bearer <key>",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Refused::Wrong => error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the client key is not accepted",
        ),
    }
}

async fn health(AxumState(shared): AxumState<Arc<Shared>>) -> Json<Value> {
    let mut counts: HashMap<&str, usize> = HashMap::from([("up", 0), ("down", 0), ("starting", 0)]);
    for server in &shared.servers {
        let entry = server.entry_now();
        if let Some(state) = entry["state"].as_str() {
            if let Some(n) = counts.get_mut(state) {
                *n += 1;
            }
        }
    }
    Json(json!({"status": "ok", "servers": counts}))
}

/// The declared server `name`, or the 404 that says it is not.
fn lookup(shared: &Shared, name: &str) -> Result<Arc<Server>, Box<Response>> {
    shared.by_name.get(name).cloned().ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "unknown_server",
            format!("no server `{name}` is declared"),
        ))
    })
}

async fn list_servers(AxumState(shared): AxumState<Arc<Shared>>) -> Json<Value> {
    let servers = futures_util::future::join_all(shared.servers.iter().map(|s| s.entry())).await;
    Json(json!({"servers": servers}))
}

async fn one_server(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    match lookup(&shared, &name) {
        Ok(server) => Json(server.entry().await).into_response(),
        Err(response) => *response,
    }
}

async fn check_now(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    match lookup(&shared, &name) {
        Ok(server) => {
            check(&shared, &server).await;
            Json(server.entry().await).into_response()
        }
        Err(response) => *response,
    }
}

async fn well_known(AxumState(shared): AxumState<Arc<Shared>>) -> Json<Value> {
    let servers: Vec<Value> = shared
        .servers
        .iter()
        .map(|s| {
            let name = &s.config.name;
            json!({
                "name": name,
                "transport": s.config.transport_name(),
                "mcp": format!("/mcp/{name}"),
                "openapi": format!("/openapi/{name}/openapi.json"),
            })
        })
        .collect();
    Json(json!({"servers": servers, "openapi": "/openapi.json"}))
}

async fn aggregate_spec(AxumState(shared): AxumState<Arc<Shared>>) -> Json<Value> {
    let mut lists = Vec::new();
    for server in &shared.servers {
        // A server that is down offers no tools until it is back.
        let tools = server
            .shown_tools(shared.check_timeout)
            .await
            .unwrap_or_default();
        lists.push((server.config.name.as_str(), tools));
    }
    let sections: Vec<Section> = lists
        .iter()
        .map(|(server, tools)| Section { server, tools })
        .collect();
    Json(openapi::spec(
        "hwc-ai MCP tools",
        "Every tool of every MCP server behind this hwc-ai gateway",
        "/",
        &sections,
        true,
    ))
}

async fn server_spec(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    let server = match lookup(&shared, &name) {
        Ok(server) => server,
        Err(response) => return *response,
    };
    let tools = match server.shown_tools(shared.check_timeout).await {
        Ok(tools) => tools,
        Err(message) => return error(StatusCode::SERVICE_UNAVAILABLE, "server_down", message),
    };
    let info = server.upstream.info();
    let description = info
        .as_ref()
        .and_then(|i| i.instructions.clone())
        .unwrap_or_else(|| format!("Tools of the MCP server `{name}`"));
    Json(openapi::spec(
        &name,
        &description,
        &format!("/openapi/{name}"),
        &[Section {
            server: &name,
            tools: &tools,
        }],
        false,
    ))
    .into_response()
}

/// `POST /openapi/{name}/{tool}`: the body is the tool's arguments.
async fn call_tool(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((name, tool)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let server = match lookup(&shared, &name) {
        Ok(server) => server,
        Err(response) => return *response,
    };
    let (outcome, response) = call(&shared, &server, &tool, &headers, &body).await;
    shared
        .metrics
        .call(&name, &tool, outcome, started.elapsed());
    response
}

async fn call(
    shared: &Shared,
    server: &Server,
    tool: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> (Outcome, Response) {
    let arguments = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        // As every hwc-ai API reads JSON from scripts: curl's `-d` or no
        // Content-Type is fine when the body is JSON.
        match hwc_ai_runtime::http::parse_json_body::<Value>(headers, body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return (
                    Outcome::InvalidArguments,
                    error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "the body must be a JSON object of the tool's arguments",
                    ),
                )
            }
            Err(rejection) => {
                let kind = if rejection.status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    "unsupported_media_type"
                } else {
                    "invalid_request"
                };
                return (
                    Outcome::InvalidArguments,
                    error(rejection.status, kind, rejection.message),
                );
            }
        }
    };
    let all = match server.upstream.tools() {
        Some(tools) => tools,
        None => match server.upstream.list_tools(shared.check_timeout).await {
            Ok(tools) => Arc::new(tools),
            Err(err) => {
                return (
                    Outcome::ServerDown,
                    error(StatusCode::SERVICE_UNAVAILABLE, "server_down", err.0),
                )
            }
        },
    };
    let name = &server.config.name;
    let Some(definition) = all.iter().find(|t| t.name == tool) else {
        return (
            Outcome::UnknownTool,
            error(
                StatusCode::NOT_FOUND,
                "unknown_tool",
                format!("server `{name}` has no tool `{tool}`"),
            ),
        );
    };
    if let Some(why) = server.policy.hides(definition) {
        return (
            Outcome::Denied,
            error(
                StatusCode::FORBIDDEN,
                "tool_denied",
                format!("tool `{tool}` is not offered by this gateway ({why})"),
            ),
        );
    }
    if let Some(problems) = server.check_arguments(&all, definition, &arguments) {
        return (
            Outcome::InvalidArguments,
            error(
                StatusCode::BAD_REQUEST,
                "invalid_arguments",
                format!("the arguments do not fit `{tool}`'s input schema: {problems}"),
            ),
        );
    }
    let peer = match server.upstream.peer() {
        Ok(peer) => peer,
        Err(err) => {
            return (
                Outcome::ServerDown,
                error(StatusCode::SERVICE_UNAVAILABLE, "server_down", err.0),
            )
        }
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    let result = tokio::time::timeout(shared.call_timeout, peer.call_tool(params)).await;
    match result {
        Ok(Ok(result)) => match openapi::result_json(&result) {
            Ok(value) => (Outcome::Ok, Json(value).into_response()),
            Err(message) => (
                Outcome::ToolError,
                error(StatusCode::INTERNAL_SERVER_ERROR, "tool_error", message),
            ),
        },
        Ok(Err(ServiceError::McpError(err))) if err.code == ErrorCode::INVALID_PARAMS => (
            Outcome::InvalidArguments,
            error(StatusCode::BAD_REQUEST, "invalid_arguments", err.message),
        ),
        Ok(Err(ServiceError::McpError(err))) if proxy::is_server_down(&err) => (
            Outcome::ServerDown,
            error(StatusCode::SERVICE_UNAVAILABLE, "server_down", err.message),
        ),
        Ok(Err(ServiceError::McpError(err))) => (
            Outcome::Error,
            error(StatusCode::BAD_GATEWAY, "server_error", err.message),
        ),
        Ok(Err(err)) => {
            let reason = format!("tools/call failed: {err}");
            server.upstream.reset(&reason);
            (
                Outcome::ServerDown,
                error(StatusCode::SERVICE_UNAVAILABLE, "server_down", reason),
            )
        }
        Err(_) => (
            Outcome::Timeout,
            error(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "tool `{tool}` did not answer within {}",
                    humantime::format_duration(shared.call_timeout)
                ),
            ),
        ),
    }
}
