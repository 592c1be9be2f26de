//! Inbound client keys: named bearer keys read from files, compared in
//! constant time. Every daemon with an API admits clients this way: the
//! MCP gateway and the assistant through [`protect`] (a layer that puts
//! the [`Client`] in the request's extensions), the router through
//! [`Clients::check`] in its handlers (its refusals are part of the
//! request's access record).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde::Deserialize;

use crate::{ConfigError, Secret, SecretSource};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientsConfig {
    /// Named bearer keys; the name is what logs show, never the key.
    #[serde(default)]
    pub keys: Vec<ClientKey>,
    /// Requests from 127.0.0.0/8 and ::1 need no key.
    #[serde(default = "default_allow_unauthenticated_loopback")]
    pub allow_unauthenticated_loopback: bool,
}

impl Default for ClientsConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            allow_unauthenticated_loopback: default_allow_unauthenticated_loopback(),
        }
    }
}

/// On: a process on the host can already reach the local services behind
/// the daemon without a key, so a key on loopback protects nothing by
/// default; the daemons listen on loopback unless told otherwise.
fn default_allow_unauthenticated_loopback() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientKey {
    pub name: String,
    pub key: SecretSource,
}

impl ClientsConfig {
    /// Shape checks for `--check-config`: names valid and unique, secrets
    /// named well, and some client able to get in. `path` is the field's
    /// path, `daemon` what the error calls the service.
    pub fn check(&self, path: &str, daemon: &str) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for (i, key) in self.keys.iter().enumerate() {
            let at = format!("{path}.keys[{i}]");
            crate::config::check_name(&format!("{at}.name"), &key.name)?;
            key.key.check(&format!("{at}.key"))?;
            if !names.insert(key.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{at}.name"),
                    format!("`{}` is used by another key", key.name),
                ));
            }
        }
        if self.keys.is_empty() && !self.allow_unauthenticated_loopback {
            return Err(ConfigError::at(
                path,
                format!(
                    "no client could use the {daemon}: add keys or allow unauthenticated loopback"
                ),
            ));
        }
        Ok(())
    }

    /// Reads every key the config names.
    pub fn load(&self, path: &str) -> Result<Clients, ConfigError> {
        let mut keys = Vec::new();
        for (i, key) in self.keys.iter().enumerate() {
            keys.push((
                key.name.clone(),
                key.key.read(&format!("{path}.keys[{i}].key"))?,
            ));
        }
        Ok(Clients::new(keys, self.allow_unauthenticated_loopback))
    }
}

/// Why a request was or was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// A key matched (its name), or a loopback peer needed none.
    Client(&'a str),
    /// No `Authorization: Bearer` header: 401.
    Missing,
    /// A bearer key that matches none: 403.
    Wrong,
}

/// The name logs show for a request admitted without a key.
pub const LOOPBACK: &str = "loopback";

/// Why a request was refused; each API answers it in its own shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A bearer key that matches none.
    Wrong,
}

/// The admitted client's name, in the request's extensions for handlers.
#[derive(Debug, Clone)]
pub struct Client(pub String);

/// The loaded keys; cheap to clone (the keys are shared).
#[derive(Clone)]
pub struct Clients {
    keys: Arc<[(String, Secret)]>,
    allow_loopback: bool,
}

impl Clients {
    pub fn new(keys: Vec<(String, Secret)>, allow_loopback: bool) -> Self {
        Self {
            keys: keys.into(),
            allow_loopback,
        }
    }

    /// The client a request's headers name, from `peer`: the extractor
    /// both the layer and the router's handlers use.
    ///
    /// A request that a reverse proxy forwarded (it carries `Forwarded` or
    /// `X-Forwarded-For`) is never a loopback request, whatever its peer:
    /// behind the nginx the module publishes a daemon with, every client
    /// on the LAN arrives from 127.0.0.1, and must still show a key. Only
    /// the proxy can set these headers for a remote client (it replaces
    /// what the client sent); a local process that sends them only gives
    /// up its own exemption.
    pub fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<&str, Refused> {
        let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        let peer = if forwarded(headers) {
            IpAddr::from([0, 0, 0, 0])
        } else {
            peer
        };
        match self.verdict(authorization, peer) {
            Verdict::Client(name) => Ok(name),
            Verdict::Missing => Err(Refused::Missing),
            Verdict::Wrong => Err(Refused::Wrong),
        }
    }

    /// The keys' values, for redaction.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(_, key)| key.expose())
    }

    /// The name of the client, or `None` when it must be refused.
    ///
    /// A key that matches names the client. Otherwise a loopback peer is
    /// admitted as [`LOOPBACK`] when allowed, whatever it sent: OpenAI SDKs
    /// always send some key, often a placeholder.
    pub fn admit(&self, authorization: Option<&[u8]>, peer: IpAddr) -> Option<&str> {
        match self.verdict(authorization, peer) {
            Verdict::Client(name) => Some(name),
            Verdict::Missing | Verdict::Wrong => None,
        }
    }

    /// Like [`Clients::admit`], telling a missing key from a wrong one.
    pub fn verdict(&self, authorization: Option<&[u8]>, peer: IpAddr) -> Verdict<'_> {
        let token = authorization.and_then(|v| v.strip_prefix(b"Bearer "));
        if let Some(token) = token {
            // Every key is compared, so the time taken does not say which
            // (or whether one) matched.
            let mut found = None;
            for (name, key) in self.keys.iter() {
                if constant_time_eq(token, key.expose().as_bytes()) {
                    found = Some(name.as_str());
                }
            }
            if let Some(name) = found {
                return Verdict::Client(name);
            }
        }
        if self.allow_loopback && peer.to_canonical().is_loopback() {
            Verdict::Client(LOOPBACK)
        } else if token.is_some() {
            Verdict::Wrong
        } else {
            Verdict::Missing
        }
    }
}

/// Whether a reverse proxy passed the request on (RFC 7239 `Forwarded`, or
/// the de facto `X-Forwarded-For`).
pub fn forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-for")
}

/// What [`protect`] checks requests against, and how the API words a
/// refusal (its own error shape and status).
#[derive(Clone)]
pub struct Gate {
    clients: Clients,
    refuse: fn(Refused) -> Response,
}

impl Gate {
    pub fn new(clients: Clients, refuse: fn(Refused) -> Response) -> Self {
        Self { clients, refuse }
    }
}

/// Every route of `router` admits only clients `gate` names; handlers
/// find the name as `Extension<Client>`. The server must be served with
/// `into_make_service_with_connect_info::<SocketAddr>()` (loopback is
/// told by the peer address).
pub fn protect<S>(router: Router<S>, gate: Gate) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::from_fn_with_state(gate, admit))
}

async fn admit(
    State(gate): State<Gate>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    match gate.clients.check(request.headers(), peer.ip()) {
        Ok(name) => {
            tracing::debug!(client = name, path = %request.uri().path(), "admitted");
            let client = Client(name.to_owned());
            request.extensions_mut().insert(client);
            next.run(request).await
        }
        Err(refused) => (gate.refuse)(refused),
    }
}

/// Compares without an early exit: the time depends on the lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_loopback() {
        let clients = Clients::new(vec![("bot".into(), Secret::new("k-123"))], true);
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(clients.admit(Some(b"Bearer k-123"), lan), Some("bot"));
        assert_eq!(clients.admit(Some(b"Bearer k-12"), lan), None);
        assert_eq!(clients.admit(None, lan), None);
        assert_eq!(clients.admit(Some(b"Bearer sk-dummy"), lo), Some(LOOPBACK));
        assert_eq!(clients.admit(None, mapped), Some(LOOPBACK));
        let strict = Clients::new(vec![("bot".into(), Secret::new("k-123"))], false);
        assert_eq!(strict.admit(None, lo), None);
        assert_eq!(strict.verdict(None, lo), Verdict::Missing);
        assert_eq!(strict.verdict(Some(b"Basic k-123"), lan), Verdict::Missing);
        assert_eq!(strict.verdict(Some(b"Bearer nope"), lan), Verdict::Wrong);
        assert_eq!(
            strict.verdict(Some(b"Bearer k-123"), lan),
            Verdict::Client("bot")
        );
    }

    #[test]
    fn check_reads_the_authorization_header() {
        let clients = Clients::new(vec![("bot".into(), Secret::new("k-123"))], false);
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(clients.check(&headers, lan), Err(Refused::Missing));
        headers.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert_eq!(clients.check(&headers, lan), Err(Refused::Wrong));
        headers.insert(header::AUTHORIZATION, "Bearer k-123".parse().unwrap());
        assert_eq!(clients.check(&headers, lan), Ok("bot"));
    }

    #[test]
    fn a_forwarded_request_from_loopback_needs_a_key() {
        let clients = Clients::new(vec![("bot".into(), Secret::new("k-123"))], true);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(clients.check(&headers, lo), Ok(LOOPBACK));
        for name in ["x-forwarded-for", "forwarded"] {
            let mut headers = headers.clone();
            headers.insert(name, "for=192.168.1.5".parse().unwrap());
            assert_eq!(clients.check(&headers, lo), Err(Refused::Missing));
            headers.insert(header::AUTHORIZATION, "Bearer sk-dummy".parse().unwrap());
            assert_eq!(clients.check(&headers, lo), Err(Refused::Wrong));
            headers.insert(header::AUTHORIZATION, "Bearer k-123".parse().unwrap());
            assert_eq!(clients.check(&headers, lo), Ok("bot"));
        }
        headers.insert(header::AUTHORIZATION, "Bearer sk-dummy".parse().unwrap());
        assert_eq!(clients.check(&headers, lo), Ok(LOOPBACK));
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
