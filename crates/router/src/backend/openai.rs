//! OpenAI-compatible backends (OpenAI, Ollama's `/v1`, llama.cpp, vLLM,
//! LiteLLM, ...): the request goes as the client sent it, with the
//! upstream model name, and the answer comes back as it is.

use serde_json::Value;

use super::Endpoint;
use crate::table::Backend;

pub(super) fn outgoing(
    backend: &Backend,
    endpoint: Endpoint,
    body: &mut Value,
    model: &str,
) -> (String, Vec<u8>) {
    if let Some(fields) = body.as_object_mut() {
        fields.insert("model".to_owned(), Value::String(model.to_owned()));
    }
    (
        format!("{}/{}", backend.base, endpoint.path()),
        serde_json::to_vec(body).expect("a JSON value serialises"),
    )
}

pub(super) fn authorize(
    backend: &Backend,
    request: reqwest::RequestBuilder,
) -> reqwest::RequestBuilder {
    match &backend.key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    }
}
