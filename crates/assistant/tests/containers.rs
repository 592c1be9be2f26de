//! `containers` against a fake engine on a unix socket that answers like
//! Docker's API (`GET /containers/json`) and records every request.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::Json;
use hwc_ai_assistant::tools::containers::containers;
use serde_json::{json, Value};

#[tokio::test]
async fn containers_come_from_the_engine_api_with_get_only() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = axum::Router::new()
        .fallback(|State(seen): State<Arc<Mutex<Vec<String>>>>, request: Request| async move {
            seen.lock().unwrap().push(format!("{} {}", request.method(), request.uri()));
            // Docker 24's shape, trimmed to what matters.
            Json(json!([
                {"Id": "4f1c", "Names": ["/open-webui"], "Image": "ghcr.io/open-webui/open-webui:main",
                 "State": "running", "Status": "Up 3 hours (healthy)", "Created": 1763800000,
                 "Labels": {"secret": "do-not-show"}},
                {"Id": "9a2b", "Names": ["/old-job"], "Image": "alpine:3", "State": "exited",
                 "Status": "Exited (1) 2 days ago", "Created": 1763600000}
            ]))
        })
        .with_state(seen.clone());
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let doc: Value = containers(Some(&socket), true).await.unwrap();
    assert_eq!(doc["total"], 2);
    assert_eq!(doc["running"], 1);
    assert_eq!(doc["containers"][0]["name"], "open-webui");
    assert_eq!(doc["containers"][1]["status"], "Exited (1) 2 days ago");
    assert!(
        !doc.to_string().contains("do-not-show"),
        "labels are not passed on: {doc}"
    );
    assert_eq!(*seen.lock().unwrap(), ["GET /containers/json?all=true"]);

    let missing = containers(Some(&dir.path().join("none.sock")), true)
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("cannot connect"), "{missing}");
}
