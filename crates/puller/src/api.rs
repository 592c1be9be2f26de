//! The puller's own HTTP routes besides `/metrics`: `/health`, the
//! `/models` state document, and `POST /reconcile` for the command line.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::engine::{Outcome, Puller, Request};
use crate::report::HealthDoc;

pub fn routes(puller: Arc<Puller>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/models", get(models))
        .route("/reconcile", post(reconcile))
        .with_state(puller)
}

/// 200 while every declared model is ready or on its way; 503 when one
/// failed, was refused for disk space or is invalid, so a prober watching
/// this endpoint turns the failure into an alert.
async fn health(State(puller): State<Arc<Puller>>) -> Response {
    let doc = HealthDoc::from(&puller.snapshot());
    let code = if doc.status == "degraded" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(doc)).into_response()
}

async fn models(State(puller): State<Arc<Puller>>) -> Response {
    Json(puller.snapshot()).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ReconcileQuery {
    /// Answer when the reconcile has settled, with the `/models` document.
    wait: bool,
    /// Re-pull the autoUpdate models now.
    update: bool,
    /// Validate every model again.
    validate: bool,
}

/// Starts a reconcile that retries failed models at once (as SIGHUP does).
/// Without `wait`: 202 at once. With `wait`: 200 and the `/models`
/// document when every declared model is ready, 503 with it otherwise.
async fn reconcile(
    State(puller): State<Arc<Puller>>,
    Query(query): Query<ReconcileQuery>,
) -> Response {
    let request = Request {
        force: true,
        update: query.update,
        revalidate: query.validate,
    };
    // Spawned: a client that hangs up must not cut the reconcile short.
    let task = {
        let puller = puller.clone();
        tokio::spawn(async move { puller.reconcile(request).await })
    };
    if !query.wait {
        return (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "accepted": true })),
        )
            .into_response();
    }
    let outcome = task.await.unwrap_or(Outcome::Done { all_ready: false });
    let code = match outcome {
        Outcome::Done { all_ready: true } => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(puller.snapshot())).into_response()
}
