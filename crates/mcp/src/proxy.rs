//! An MCP server that forwards to an [`Upstream`]: the gateway's
//! `/mcp/{name}` (with the server's tool policy) and the wrapper's `/mcp`
//! (without one).
//!
//! Every client session shares the one upstream session, as in mcpo and
//! mcp-proxy. Requests are forwarded whole, so resources, prompts and
//! completions work as the server offers them; `tools/list` is filtered and
//! `tools/call` checked against the policy. Server-to-client requests
//! (sampling, roots, elicitation) are not relayed: with a shared session
//! there is no one client to ask.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

#[allow(deprecated)] // logging/setLevel: servers up to 2025-11-25 still offer it
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientRequest, CompleteRequestParams, CompleteResult,
    DiscoverResult, ErrorCode, ErrorData, GetPromptRequestParams, GetPromptResponse,
    Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, Request,
    RequestOptionalParam, ServerConfig, ServerPeerInfo, ServerResult, SetLevelRequestParams,
    SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext, ServiceError};
use rmcp::{RoleServer, ServerHandler};

use crate::metrics::{Metrics, Outcome};
use crate::policy::Policy;
use crate::upstream::Upstream;

/// The MCP versions the gateway speaks to its clients: every one reached
/// through `initialize` (see `supported_protocol_versions` below).
pub fn spoken_versions() -> &'static [ProtocolVersion] {
    ProtocolVersion::known_up_to(&ProtocolVersion::LATEST_WITH_INITIALIZE)
}

#[derive(Clone)]
pub struct Proxy {
    pub upstream: Arc<Upstream>,
    pub policy: Option<Arc<Policy>>,
    pub timeout: Duration,
    pub metrics: Option<Arc<Metrics>>,
}

/// The answer to `initialize` for a server that said `info`.
pub fn server_config(info: &ServerPeerInfo) -> ServerConfig {
    let mut config = InitializeResult::new(info.capabilities.clone())
        .with_protocol_version(info.protocol_version.clone())
        .with_server_info(
            info.server_info
                .clone()
                .unwrap_or_else(|| Implementation::new("unknown", "0")),
        );
    config.instructions = info.instructions.clone();
    config
}

impl Proxy {
    fn info(&self) -> Result<Arc<ServerPeerInfo>, ErrorData> {
        match self.upstream.info() {
            Some(info) => Ok(info),
            None => Err(unavailable(self.upstream.peer().err().map(|e| e.0))),
        }
    }

    /// Sends `request` to the server, within the timeout.
    async fn forward(&self, request: ClientRequest) -> Result<ServerResult, ErrorData> {
        let peer = self.upstream.peer().map_err(|e| unavailable(Some(e.0)))?;
        let mut options = PeerRequestOptions::no_options();
        options.timeout = Some(self.timeout);
        let result = match peer.send_request_with_option(request, options).await {
            Ok(handle) => handle.await_response().await,
            Err(err) => Err(err),
        };
        match result {
            Ok(result) => Ok(result),
            Err(ServiceError::McpError(err)) => Err(err),
            Err(ServiceError::Timeout { .. }) => Err(ErrorData::internal_error(
                format!(
                    "server `{}` did not answer within {}",
                    self.upstream.name,
                    humantime::format_duration(self.timeout)
                ),
                None,
            )),
            Err(err) => {
                let reason = format!("request failed: {err}");
                self.upstream.reset(&reason);
                Err(unavailable(Some(reason)))
            }
        }
    }

    /// Why a client may not call `name`, if it may not.
    pub async fn refuse_call(&self, name: &str) -> Option<String> {
        let policy = self.policy.as_ref()?;
        let tools = match self.upstream.tools() {
            Some(tools) => tools,
            None => match self.upstream.list_tools(self.timeout).await {
                Ok(tools) => Arc::new(tools),
                Err(err) => return Some(err.0),
            },
        };
        // A tool the last listing did not have (added since) is judged by
        // its name alone, and counts as unannotated.
        let unlisted;
        let tool = match tools.iter().find(|t| t.name == name) {
            Some(tool) => tool,
            None => {
                unlisted = Policy::unlisted(name);
                &unlisted
            }
        };
        policy
            .hides(tool)
            .map(|why| format!("tool `{name}` is not offered by this gateway ({why})"))
    }

    fn filter(&self, tools: Vec<Tool>) -> Vec<Tool> {
        match &self.policy {
            Some(policy) => policy.filter(tools).0,
            None => tools,
        }
    }
}

/// The JSON-RPC error a client gets while the server is unreachable. Its
/// `data` lets a gateway in front of a wrapper tell "down" from a failure
/// of the request itself.
fn unavailable(reason: Option<String>) -> ErrorData {
    ErrorData::internal_error(
        reason.unwrap_or_else(|| "server unavailable".into()),
        Some(serde_json::json!({"hwcAi": SERVER_DOWN})),
    )
}

pub const SERVER_DOWN: &str = "server_down";

/// Whether `error` says the server behind a wrapper is down.
pub fn is_server_down(error: &ErrorData) -> bool {
    error
        .data
        .as_ref()
        .and_then(|d| d.get("hwcAi"))
        .and_then(|v| v.as_str())
        == Some(SERVER_DOWN)
}

/// Picks the expected variant out of a forwarded request's answer.
macro_rules! answer {
    ($self:ident, $request:expr, $($variant:ident => $into:expr);+) => {{
        match $self.forward($request).await? {
            $(ServerResult::$variant(result) => Ok($into(result)),)+
            _ => Err(ErrorData::internal_error(
                format!("server `{}` answered with the wrong result type", $self.upstream.name),
                None,
            )),
        }
    }};
}

fn optional<M: Default, P>(params: Option<P>) -> RequestOptionalParam<M, P> {
    match params {
        Some(params) => RequestOptionalParam::with_param(params),
        None => RequestOptionalParam {
            method: M::default(),
            params: None,
            extensions: Default::default(),
        },
    }
}

impl ServerHandler for Proxy {
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        let info = self.info()?;
        context.peer.set_peer_info(request);
        self.upstream.add_downstream(context.peer.clone());
        Ok(server_config(&info))
    }

    /// The handshake-era versions only (up to 2025-11-25). 2026-07-28 is a
    /// different protocol, not a field more: stateless requests carrying
    /// their own `_meta`, `resultType` and caching hints on every result,
    /// `input_required` rounds. A proxy would have to translate each
    /// answer of its handshake-era servers into it, and rmcp leaves that to
    /// the handler; claiming the version without doing so broke mcp 2.3.0's
    /// client (Open WebUI's), which rejects a `tools/list` without
    /// `resultType`. Listing only these in `server/discover` makes such a
    /// client fall back to `initialize`, and bounds what `initialize`
    /// agrees to.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(spoken_versions())
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        let info = self.info()?;
        Ok(DiscoverResult::from_server_info(
            spoken_versions().to_vec(),
            server_config(&info),
        ))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        answer!(self, ClientRequest::CompleteRequest(Request::new(request)), CompleteResult => |r| r)
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        answer!(self, ClientRequest::SetLevelRequest(Request::new(request)), EmptyResult => |_| ())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        answer!(self, ClientRequest::GetPromptRequest(Request::new(request)),
            GetPromptResult => GetPromptResponse::from)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        answer!(self, ClientRequest::ListPromptsRequest(optional(request)), ListPromptsResult => |r| r)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        answer!(self, ClientRequest::ListResourcesRequest(optional(request)), ListResourcesResult => |r| r)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        answer!(self, ClientRequest::ListResourceTemplatesRequest(optional(request)),
            ListResourceTemplatesResult => |r| r)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        answer!(self, ClientRequest::ReadResourceRequest(Request::new(request)),
            ReadResourceResult => ReadResourceResponse::from)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        answer!(self, ClientRequest::SubscribeRequest(Request::new(request)), EmptyResult => |_| ())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        answer!(self, ClientRequest::UnsubscribeRequest(Request::new(request)), EmptyResult => |_| ())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = std::time::Instant::now();
        let tool = request.name.to_string();
        let result = match self.refuse_call(&tool).await {
            Some(reason) => Err(ErrorData::new(ErrorCode::INVALID_PARAMS, reason, None)),
            None => {
                answer!(self, ClientRequest::CallToolRequest(Request::new(request)),
                    CallToolResult => CallToolResponse::from;
                    InputRequiredResult => CallToolResponse::from;
                    CreateTaskResult => CallToolResponse::from)
            }
        };
        if let Some(metrics) = &self.metrics {
            let outcome = match &result {
                Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => Outcome::ToolError,
                Ok(_) => Outcome::Ok,
                Err(e) if e.message.contains("is not offered by this gateway") => Outcome::Denied,
                Err(e) if e.code == ErrorCode::INVALID_PARAMS => Outcome::InvalidArguments,
                Err(_) if self.upstream.peer().is_err() => Outcome::ServerDown,
                Err(_) => Outcome::Error,
            };
            metrics.call(&self.upstream.name, &tool, outcome, started.elapsed());
        }
        result
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut page: ListToolsResult = answer!(self,
            ClientRequest::ListToolsRequest(optional(request)), ListToolsResult => |r| r)?;
        page.tools = self.filter(std::mem::take(&mut page.tools));
        Ok(page)
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        if let Ok(peer) = self.upstream.peer() {
            let _ = peer.notify_roots_list_changed().await;
        }
    }

    fn get_info(&self) -> ServerConfig {
        match self.upstream.info() {
            Some(info) => server_config(&info),
            None => InitializeResult::new(Default::default()),
        }
    }
}
