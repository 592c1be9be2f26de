//! Admission at the router's edge: the client's key (or loopback, when
//! allowed), then the body within `maxBodyBytes`; and the per-request
//! switches a client may send as headers.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header;

use crate::error::ApiError;
use crate::record::Record;
use crate::table::Table;

/// Admits a request: a client key that matches (or loopback, when
/// allowed), then its body within `maxBodyBytes` (by `Content-Length`
/// before reading, or while reading a chunked body). Names the client in
/// `record`.
pub(crate) async fn admit(
    table: &Table,
    peer: SocketAddr,
    request: Request,
    record: &mut Record,
) -> Result<(axum::http::HeaderMap, Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    // A wrong key is a 401 too, as OpenAI answers an invalid key.
    match table.clients.check(&parts.headers, peer.ip()) {
        Ok(name) => record.client = name.to_owned(),
        Err(_) => return Err(ApiError::unauthorized()),
    }
    let limit = table.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok((parts.headers, bytes)),
        Err(err) => {
            let over = std::error::Error::source(&err)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if over {
                ApiError::too_large(limit)
            } else {
                ApiError::bad_request("could not read the request body")
            })
        }
    }
}

/// Whether a request header is set to `1` or `true`.
pub(crate) fn flag(headers: &axum::http::HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes() == b"1" || v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// Whether this request's upstream traffic is logged: the operator
/// allowed it (`debugRequests`) and the client asked (`x-hwc-ai-debug: 1`).
pub(crate) fn debug_on(table: &Table, headers: &axum::http::HeaderMap) -> bool {
    table.debug_requests && flag(headers, "x-hwc-ai-debug")
}
