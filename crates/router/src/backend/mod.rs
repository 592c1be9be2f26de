//! The backend kinds: how a request reaches each kind of upstream (its
//! URL, body, credentials and headers) and how its answers come back in
//! OpenAI's shape. A kind is a file; this one only dispatches.

pub mod anthropic;
mod openai;

use axum::body::Bytes;
use serde_json::Value;

use crate::config::BackendKind;
use crate::error::Failure;
use crate::table::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

impl Endpoint {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat/completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// The URL and body of the request to `backend` for this client request.
pub(crate) fn outgoing(
    backend: &Backend,
    endpoint: Endpoint,
    body: &mut Value,
    model: &str,
    stream: bool,
) -> Result<(String, Vec<u8>), Failure> {
    match backend.kind {
        BackendKind::OpenaiCompatible => Ok(openai::outgoing(backend, endpoint, body, model)),
        BackendKind::Anthropic => anthropic::outgoing(backend, endpoint, body, model, stream),
    }
}

/// The backend's credentials and required headers.
pub(crate) fn authorize(
    backend: &Backend,
    request: reqwest::RequestBuilder,
) -> reqwest::RequestBuilder {
    match backend.kind {
        BackendKind::OpenaiCompatible => openai::authorize(backend, request),
        BackendKind::Anthropic => anthropic::authorize(backend, request),
    }
}

/// How the credentials are shown in a debug log.
pub(crate) fn auth_shown(backend: &Backend) -> &'static str {
    match (&backend.key, backend.kind) {
        (None, _) => "none",
        (Some(_), BackendKind::Anthropic) => "x-api-key: <redacted>",
        (Some(_), BackendKind::OpenaiCompatible) => "authorization: Bearer <redacted>",
    }
}

/// A successful whole answer in OpenAI's shape; empty when it is not one.
pub(crate) fn answer(backend: &Backend, body: Bytes) -> Bytes {
    match backend.kind {
        BackendKind::OpenaiCompatible => body,
        BackendKind::Anthropic => anthropic::answer(body),
    }
}

/// An upstream error body in OpenAI's shape.
pub(crate) fn error_body(backend: &Backend, body: Bytes) -> Bytes {
    match backend.kind {
        BackendKind::OpenaiCompatible => body,
        BackendKind::Anthropic => Bytes::from(anthropic::error(&body)),
    }
}

/// For a kind whose stream is not OpenAI's: its translator.
pub(crate) fn stream_translator(
    backend: &Backend,
    body: &Value,
) -> Option<anthropic::StreamTranslator> {
    match backend.kind {
        BackendKind::OpenaiCompatible => None,
        BackendKind::Anthropic => Some(anthropic::stream_translator(body)),
    }
}
