//! Browser origins at the edge: CORS headers for the origins the operator
//! named (`allowedOrigins`, checked by [`crate::config::check_origins`]),
//! and, where an API wants it, a guard that refuses every other origin.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// What a browser page may send to an API, beyond the origins.
pub struct Cors<'a> {
    pub methods: &'a [Method],
    /// Request headers beyond `Authorization`, `Content-Type` and `Accept`
    /// (lowercase names).
    pub headers: &'a [&'static str],
    /// Response headers the page may read (lowercase names).
    pub expose: &'a [&'static str],
}

impl Cors<'_> {
    /// CORS headers for `origins`; `None` when there are none (no browser
    /// page is expected, so no CORS headers are sent).
    pub fn layer(&self, origins: &[String]) -> Option<CorsLayer> {
        if origins.is_empty() {
            return None;
        }
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::try_from(o.as_str()).ok())
            .collect();
        let headers = [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT]
            .into_iter()
            .chain(self.headers.iter().map(|h| HeaderName::from_static(h)))
            .collect::<Vec<_>>();
        let mut layer = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(self.methods.to_vec())
            .allow_headers(headers)
            // Ten minutes: a page does not send a preflight per request,
            // and a changed allowedOrigins still reaches browsers soon.
            .max_age(Duration::from_secs(600));
        if !self.expose.is_empty() {
            layer = layer.expose_headers(
                self.expose
                    .iter()
                    .map(|h| HeaderName::from_static(h))
                    .collect::<Vec<_>>(),
            );
        }
        Some(layer)
    }
}

/// `router` with CORS headers for `origins` (none when the list is empty).
pub fn allow<S>(router: Router<S>, cors: &Cors<'_>, origins: &[String]) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    match cors.layer(origins) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// Refuses, with `refuse(origin)`, every request whose `Origin` is not
/// one of `origins` (compared case-insensitively); a request without an
/// `Origin` (not from a browser page) passes. Add it last, so that it is
/// the outermost layer and a preflight is refused too.
pub fn guard<S>(router: Router<S>, origins: &[String], refuse: fn(&str) -> Response) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let state: Guard = (Arc::from(origins), refuse);
    router.layer(axum::middleware::from_fn_with_state(state, check))
}

/// The allowed origins and how the API refuses another.
type Guard = (Arc<[String]>, fn(&str) -> Response);

async fn check(State((origins, refuse)): State<Guard>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if !allowed {
            return refuse(&String::from_utf8_lossy(origin.as_bytes()));
        }
    }
    next.run(request).await
}
