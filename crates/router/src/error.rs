//! Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
//!
//! Messages name backends and targets by their configured names, never
//! URLs, headers or keys.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hwc_ai_runtime::http::ApiErrorBody;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
}

/// Why a target was passed over, as the `reason` label of `fallbacks`.
pub(crate) type Failure = (ApiError, &'static str);

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
        }
    }

    /// The target failed: refused, broke off, or answered what is no answer.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            "upstream_error",
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message,
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            "missing or unknown API key (send Authorization: Bearer <key>)",
        )
    }

    pub fn unknown_model(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("no route for model `{model}`; GET /v1/models lists the routable names"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body is larger than the router's limit of {limit} bytes"),
        )
    }

    /// The body of an SSE error event that ends a stream after its first
    /// byte.
    pub fn sse_event(&self) -> String {
        format!("data: {}\n\n", self.json())
    }

    fn json(&self) -> serde_json::Value {
        self.body()
    }
}

impl ApiErrorBody for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": null,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.response()
    }
}
