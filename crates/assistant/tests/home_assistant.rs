//! Home Assistant: entities read, lights switched only when allowed, and
//! `/v1/query`'s answers for chat bots — against a fake Home Assistant
//! that checks the token and records every call, and a scripted model.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Ha {
    calls: Arc<Mutex<Vec<String>>>,
}

async fn start_ha() -> (Ha, String) {
    let ha = Ha::default();
    let authorized = |headers: &HeaderMap| {
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer ha-token")
    };
    let app = axum::Router::new()
        .route(
            "/api/states",
            axum::routing::get(move |headers: HeaderMap| async move {
                if !authorized(&headers) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(json!([
                    {"entity_id": "light.kitchen", "state": "off", "attributes": {"friendly_name": "Kitchen"}, "last_changed": "2026-11-22T08:00:00Z"},
                    {"entity_id": "light.porch", "state": "on", "attributes": {"friendly_name": "Porch"}, "last_changed": "2026-11-22T07:00:00Z"},
                    {"entity_id": "sensor.power", "state": "230", "attributes": {}, "last_changed": "2026-11-22T09:00:00Z"}
                ])).into_response()
            }),
        )
        .route(
            "/api/services/light/{service}",
            axum::routing::post(
                move |State(ha): State<Ha>, Path(service): Path<String>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    if !authorized(&headers) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    ha.calls.lock().unwrap().push(format!("{service} {}", body["entity_id"].as_str().unwrap_or("?")));
                    Json(json!([])).into_response()
                },
            ),
        )
        .with_state(ha.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (ha, url)
}

/// A model that answers every request with the next scripted text.
async fn start_model(replies: Vec<&'static str>) -> String {
    let replies = Arc::new(Mutex::new(replies));
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let replies = replies.clone();
            async move {
                let text = {
                    let mut r = replies.lock().unwrap();
                    if r.is_empty() {
                        "(nothing)"
                    } else {
                        r.remove(0)
                    }
                };
                Json(json!({"choices": [{"message": {"role": "assistant", "content": text}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Assistant {
    url: String,
    state: tempfile::TempDir,
    daemon: Embedded,
}

impl Drop for Assistant {
    fn drop(&mut self) {
        self.daemon.shutdown.trigger();
    }
}

async fn start(model: &str, ha_url: &str, actions: bool) -> Assistant {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("ha.token"), "ha-token\n").unwrap();
    let doc = json!({
        "stateDirectory": state.path().join("state"),
        "router": {"url": model},
        "tools": ["ha_entities", "ha_light_on", "ha_light_off", "disk_usage"],
        "homeAssistant": {
            "url": ha_url,
            "token": {"file": state.path().join("ha.token")},
            "actions": {"enable": actions, "entities": if actions { json!(["light.kitchen"]) } else { json!([]) }}
        }
    });
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
    let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let url = daemon.url.clone();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    Assistant { url, state, daemon }
}

async fn query(a: &Assistant, text: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/query", a.url))
        .json(&json!({"text": text, "source": "telegram"}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn lights_are_switched_only_when_allowed_and_every_action_is_audited() {
    let (ha, ha_url) = start_ha().await;
    let model = start_model(vec![
        r#"Sure! {"intent": "light_on", "entity": "light.kitchen"}"#,
        r#"{"intent": "light_off", "entity": "light.porch"}"#,
        "I think you want the lights?",
    ])
    .await;
    let a = start(&model, &ha_url, true).await;

    let (status, body) = query(&a, "turn on the kitchen light").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"reply": "Turned on light.kitchen.", "intent": "light_on", "action_taken": true})
    );
    // Not one of the named lights: nothing is switched.
    let (_, body) = query(&a, "turn off the porch light").await;
    assert_eq!(body["action_taken"], false);
    assert!(
        body["reply"]
            .as_str()
            .unwrap()
            .contains("not one of the lights"),
        "{body}"
    );
    // The model's answer is no intent: a friendly reply, not an error.
    let (status, body) = query(&a, "lights?").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"reply": "I didn't understand that.", "intent": "unknown", "action_taken": false})
    );
    assert_eq!(*ha.calls.lock().unwrap(), ["turn_on light.kitchen"]);

    let rows =
        hwc_ai_assistant::audit::tail_file(&a.state.path().join("state/audit.db"), 20).unwrap();
    let actions: Vec<(Option<String>, String)> = rows
        .iter()
        .filter(|r| r.entry.tool.is_some())
        .map(|r| (r.entry.tool.clone(), r.entry.outcome.clone()))
        .collect();
    assert_eq!(
        actions,
        [
            (Some("ha_light_on".into()), "ok".into()),
            (Some("ha_light_off".into()), "error".into())
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.entry.client == "loopback via telegram"));
}

#[tokio::test]
async fn home_assistant_down_is_said_and_the_model_down_is_503() {
    let closed = format!("http://{}", free_addr());
    let model = start_model(vec![r#"{"intent": "light_on", "entity": "light.kitchen"}"#]).await;
    let a = start(&model, &closed, true).await;
    let (status, body) = query(&a, "turn on the kitchen light").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reply"], "I couldn't reach Home Assistant right now.");
    assert_eq!(body["action_taken"], false);

    let (_, ha_url) = start_ha().await;
    let b = start(&closed, &ha_url, true).await;
    let (status, body) = query(&b, "turn on the kitchen light").await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn without_actions_lights_are_refused_and_entities_are_read() {
    let (ha, ha_url) = start_ha().await;
    let model = start_model(vec![]).await;
    let a = start(&model, &ha_url, false).await;
    let (status, body) = query(&a, "turn on the kitchen light").await;
    assert_eq!(status, 200);
    assert_eq!(body["intent"], "refused");
    assert_eq!(body["action_taken"], false);
    assert!(ha.calls.lock().unwrap().is_empty());
    // No light tools are offered; entities are readable.
    let spec: Value = reqwest::get(format!("{}/tools/openapi.json", a.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["post"]["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["ha_entities", "disk_usage"]);
    let lights: Value = reqwest::Client::new()
        .post(format!("{}/tools/ha_entities", a.url))
        .json(&json!({"domain": "light"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = lights["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["light.kitchen", "light.porch"]);
}
