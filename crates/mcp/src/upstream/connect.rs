//! How a server is reached: a stdio child, a wrapper's unix socket, or a
//! remote URL over streamable HTTP or legacy SSE.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context as _;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, UnixSocketHttpClient};
use rmcp::{RoleClient, ServiceExt};

use super::stdio::Child;
use super::{sse, Events};
use crate::config::{Kind, RemoteTransport, ServerConfig, StdioConfig};
use crate::gateway::Gateway;
use hwc_ai_runtime::{ConfigError, Daemon, Secret};

/// The URL a wrapper serves MCP at on its socket.
pub const WRAPPED_MCP_URL: &str = "http://localhost/mcp";

pub enum Connector {
    Stdio(Child),
    Socket(PathBuf),
    Remote(Remote),
}

pub struct Remote {
    pub url: url::Url,
    pub transport: RemoteTransport,
    pub headers: HashMap<http::HeaderName, http::HeaderValue>,
    pub token: Option<Secret>,
    pub client: reqwest13::Client,
}

impl Connector {
    /// Builds the connector for a configured server, reading its secrets.
    /// `path` is the server's config path, for errors.
    pub fn new(server: &ServerConfig, path: &str) -> Result<Self, ConfigError> {
        Ok(match server.kind() {
            Kind::Command => Connector::Stdio(Child::new(&server.name, server.stdio(), path)?),
            Kind::Socket => Connector::Socket(server.socket.clone().expect("kind is socket")),
            Kind::Remote(transport) => {
                let token = match &server.bearer_token {
                    Some(source) => Some(source.read(&format!("{path}.bearerToken"))?),
                    None => None,
                };
                let mut headers = HashMap::new();
                for (name, value) in &server.headers {
                    // Checked by the config's validation.
                    if let (Ok(n), Ok(v)) = (
                        http::HeaderName::try_from(name.as_str()),
                        http::HeaderValue::try_from(value.as_str()),
                    ) {
                        headers.insert(n, v);
                    }
                }
                // rmcp's reqwest is built without a TLS provider; ring is
                // the one the rest of hwc-ai uses. Already installed: fine.
                let _ = rustls::crypto::ring::default_provider().install_default();
                // rmcp's reqwest is not the runtime's, so the runtime's
                // client policy is repeated here: who is asking, no proxy
                // from the environment, the connect bound. It trusts the
                // system's CA store; a `tls` section is not read
                // (docs/mcp.md).
                let builder = || {
                    reqwest13::Client::builder()
                        .user_agent(hwc_ai_runtime::client::user_agent(Gateway::NAME))
                        .no_proxy()
                        .connect_timeout(hwc_ai_runtime::client::CONNECT_TIMEOUT)
                };
                // A system without a CA store (a minimal container, the Nix
                // build sandbox) still reaches plain-http servers, as the
                // runtime's client does; https ones then fail to verify,
                // each with its own error.
                let client = match builder().build() {
                    Ok(client) => client,
                    Err(err) => {
                        tracing::warn!(server = %server.name,
                            "no usable system CA store ({err}): https servers cannot be verified");
                        builder()
                            .tls_certs_only(Vec::<reqwest13::Certificate>::new())
                            .build()
                            .map_err(|err| ConfigError::at(path, format!("HTTP client: {err}")))?
                    }
                };
                Connector::Remote(Remote {
                    url: server.url.clone().expect("kind is remote"),
                    transport,
                    headers,
                    token,
                    client,
                })
            }
        })
    }

    /// A stdio server for the wrapper.
    pub fn stdio(name: &str, stdio: StdioConfig) -> Result<Self, ConfigError> {
        Ok(Connector::Stdio(Child::new(name, stdio, "")?))
    }

    /// Connects and runs `initialize`.
    pub(super) async fn connect(
        &mut self,
        events: Events,
    ) -> anyhow::Result<RunningService<RoleClient, Events>> {
        self.connect_inner(events)
            .await
            .map_err(|err| anyhow::anyhow!(plain(&format!("{err:#}"))))
    }

    async fn connect_inner(
        &mut self,
        events: Events,
    ) -> anyhow::Result<RunningService<RoleClient, Events>> {
        match self {
            Connector::Stdio(child) => {
                let transport = child.start()?;
                Ok(events.serve(transport).await?)
            }
            Connector::Socket(path) => {
                let socket = path.to_str().context("socket path is not UTF-8")?;
                let client = UnixSocketHttpClient::new(socket, WRAPPED_MCP_URL);
                let transport = StreamableHttpClientTransport::with_client(
                    client,
                    StreamableHttpClientTransportConfig::with_uri(WRAPPED_MCP_URL),
                );
                Ok(events
                    .serve(transport)
                    .await
                    .with_context(|| format!("via {}", path.display()))?)
            }
            Connector::Remote(remote) => match remote.transport {
                RemoteTransport::StreamableHttp => {
                    let mut config =
                        StreamableHttpClientTransportConfig::with_uri(remote.url.as_str());
                    config.auth_header = remote.token.as_ref().map(|t| t.expose().to_owned());
                    config.custom_headers = remote.headers.clone();
                    let transport =
                        StreamableHttpClientTransport::with_client(remote.client.clone(), config);
                    Ok(events.serve(transport).await?)
                }
                RemoteTransport::Sse => {
                    let transport = sse::connect(remote).await?;
                    Ok(events.serve(transport).await?)
                }
            },
        }
    }

    /// Resolves when a stdio server exits, with how; never otherwise.
    pub(super) async fn exited(&mut self) -> String {
        match self {
            Connector::Stdio(child) => child.exited().await,
            _ => std::future::pending().await,
        }
    }

    /// Stops a stdio server; returns its last stderr lines for the report.
    pub(super) async fn stop(&mut self) -> String {
        match self {
            Connector::Stdio(child) => child.stop().await,
            _ => String::new(),
        }
    }

    pub(super) fn pid(&self) -> Option<u32> {
        match self {
            Connector::Stdio(child) => child.pid(),
            _ => None,
        }
    }
}

/// rmcp's initialize errors name its internal types
/// (`Send message error Transport [rmcp::transport::worker::...] error:
/// ...`); an operator needs the cause.
fn plain(message: &str) -> String {
    let mut m = message.to_owned();
    while let Some(start) = m.find("Transport [") {
        match m[start..].find("] error: ") {
            Some(end) => m.replace_range(start..start + end + "] error: ".len(), ""),
            None => break,
        }
    }
    let m = m
        .replace("Send message error ", "")
        .replace(", when send initialize request", "")
        .replace("Client error: ", "");
    format!("initialize failed: {m}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn initialize_errors_lose_the_sdk_internals() {
        let raw = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::transport::streamable_http_client::StreamableHttpClientWorker<reqwest::async_impl::client::Client>>] error: Client error: error sending request for url (http://127.0.0.1:3101/mcp), when send initialize request";
        assert_eq!(
            super::plain(raw),
            "initialize failed: error sending request for url (http://127.0.0.1:3101/mcp)"
        );
    }
}
