//! The HTTP API: the OpenAI-compatible endpoints and `/health`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};

use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::backend::Endpoint;
use crate::error::ApiError;
use crate::proxy;
use crate::table::Table;

pub fn routes(table: Arc<Table>) -> Router {
    // The completions check the key in their handlers (a refusal is part
    // of the request's access record); the model list behind the layer.
    let listing = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/models/{*id}", get(model));
    let listing = hwc_ai_runtime::auth::protect(
        listing,
        hwc_ai_runtime::auth::Gate::new(table.clients.clone(), |_| {
            ApiError::unauthorized().into_response()
        }),
    );
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/execute", post(crate::execute::handle))
        .merge(listing)
        .route("/health", get(health))
        .with_state(table)
}

async fn chat(
    State(table): State<Arc<Table>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    proxy::handle(table, peer, request, Endpoint::ChatCompletions).await
}

async fn embeddings(
    State(table): State<Arc<Table>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    proxy::handle(table, peer, request, Endpoint::Embeddings).await
}

/// The names a client can ask for: every route that is not a glob.
async fn models(State(table): State<Arc<Table>>) -> Response {
    let mut names: Vec<String> = table
        .routes
        .iter()
        .filter(|r| !r.glob)
        .map(|r| r.model.clone())
        .collect();
    let asked = table
        .backends
        .iter()
        .enumerate()
        // A discovering backend's list is already at hand.
        .filter(|(_, b)| b.list_models && b.discovery.is_none())
        .map(|(i, _)| discover(&table, i));
    let mut listed = futures_util::future::join_all(asked).await;
    for (i, b) in table.backends.iter().enumerate() {
        if let Some(d) = &b.discovery {
            let mut installed: Vec<String> = d.catalog().installed.iter().cloned().collect();
            installed.sort_unstable();
            listed.push((i, installed));
        }
    }
    for (i, found) in listed {
        for id in found {
            // Listed only when asking for it would reach this backend.
            let reaches = table.resolve(&id).is_some_and(|route| {
                route.glob
                    && route
                        .targets
                        .iter()
                        .any(|t| t.backend == i && t.model.is_none())
            });
            if reaches && !names.contains(&id) {
                names.push(id);
            }
        }
    }
    let data: Vec<_> = names
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": table.started, "owned_by": "hwc-ai"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// How long a backend may take to list its models: a listing is a local
/// lookup, and a client waits for the slowest backend.
const DISCOVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The model ids backend `i` lists; none when it does not answer.
async fn discover(table: &Table, i: usize) -> (usize, Vec<String>) {
    let backend = &table.backends[i];
    let mut request = backend
        .client
        .get(format!("{}/models", backend.base))
        .timeout(DISCOVERY_TIMEOUT);
    match (&backend.key, backend.kind) {
        // Anthropic's /v1/models takes its key and version as for messages.
        (Some(key), crate::config::BackendKind::Anthropic) => {
            request = request
                .header("x-api-key", key.expose())
                .header("anthropic-version", crate::backend::anthropic::VERSION);
        }
        (Some(key), _) => request = request.bearer_auth(key.expose()),
        (None, _) => {}
    }
    #[derive(serde::Deserialize)]
    struct List {
        data: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
    }
    let listed = match request.send().await {
        Ok(response) if response.status().is_success() => response.json::<List>().await.ok(),
        _ => None,
    };
    match listed {
        Some(list) => (i, list.data.into_iter().map(|e| e.id).collect()),
        None => {
            tracing::debug!("backend `{}` did not list its models", backend.name);
            (i, Vec::new())
        }
    }
}

/// One routable name, as OpenAI's `GET /v1/models/{id}`.
async fn model(State(table): State<Arc<Table>>, Path(id): Path<String>) -> Response {
    match table.routes.iter().find(|r| !r.glob && r.model == id) {
        Some(route) => Json(json!({"id": route.model, "object": "model",
                                   "created": table.started, "owned_by": "hwc-ai"}))
        .into_response(),
        None => ApiError::unknown_model(&id).into_response(),
    }
}

/// Targets and their circuits, and whether any route can leave the host.
/// Open without a key, like `/metrics`: it holds names, not secrets.
async fn health(State(table): State<Arc<Table>>) -> Response {
    let mut seen = std::collections::HashSet::new();
    let mut targets = Vec::new();
    for target in table.routes.iter().flat_map(|r| &r.targets) {
        if !seen.insert(target.id.as_str()) {
            continue;
        }
        let backend = &table.backends[target.backend];
        targets.push(json!({
            "name": target.id,
            "backend": backend.name,
            "model": target.model,
            "local": backend.local,
            "circuit": target.breaker.state().as_str(),
            "consecutiveFailures": target.breaker.consecutive_failures(),
        }));
    }
    let available = table
        .routes
        .iter()
        .flat_map(|r| &r.targets)
        .any(|t| t.breaker.state() != crate::breaker::State::Open);
    let routes: Vec<_> = table
        .routes
        .iter()
        .map(|r| {
            json!({
                "model": r.model,
                "targets": r.targets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
                "leavesHost": r.targets.iter().any(|t| !table.backends[t.backend].local),
            })
        })
        .collect();
    Json(json!({
        "status": if available { "ok" } else { "degraded" },
        "leavesHost": table.leaves_host(),
        "routes": routes,
        "targets": targets,
        "backends": crate::status::backends(&table),
    }))
    .into_response()
}
