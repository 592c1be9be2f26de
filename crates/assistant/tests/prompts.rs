//! The operator's prompts: the system prompt and the intent prompt from
//! files reach the model in place of the built-in ones, and a prompt file
//! without its placeholder fails `--check-config`, naming the field.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::Json;
use hwc_ai_test_support::Embedded;
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<Value>>>;

/// A model that answers `reply` and keeps every request body.
async fn start_model(reply: &'static str) -> (Seen, String) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(
                move |State(seen): State<Seen>, Json(body): Json<Value>| async move {
                    seen.lock().unwrap().push(body);
                    Json(json!({"choices": [{"message": {"role": "assistant", "content": reply}}]}))
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, url)
}

fn system_prompts(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|b| {
            b["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_operators_prompts_reach_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let system = dir.path().join("system.txt");
    let intent = dir.path().join("intent.txt");
    std::fs::write(
        &system,
        "You are Jarvis, the assistant of the Smith homelab.\n",
    )
    .unwrap();
    std::fs::write(
        &intent,
        "Smith house lights: {lights}. Say {\"intent\": ...} only.",
    )
    .unwrap();
    std::fs::write(dir.path().join("ha.token"), "t\n").unwrap();
    let (seen, model) = start_model("(an answer)").await;
    let doc = json!({
        "stateDirectory": dir.path().join("state"),
        "router": {"url": model},
        "tools": ["disk_usage", "ha_light_on", "ha_light_off"],
        "prompts": {"systemFile": system, "intentFile": intent},
        "homeAssistant": {
            "url": "http://127.0.0.1:9",
            "token": {"file": dir.path().join("ha.token")},
            "actions": {"enable": true, "entities": ["light.kitchen", "light.hall"]}
        }
    });
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
    let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let url = daemon.url.clone();
    let shutdown = daemon.shutdown.clone();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let client = reqwest::Client::new();
    // /v1/query with actions: the intent prompt, with the lights in it.
    let r = client
        .post(format!("{url}/v1/query"))
        .json(&json!({"text": "is it going to rain?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A chat: the system prompt.
    let r = client
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": "hwc-ai-assistant", "messages": [{"role": "user", "content": "what is a homelab?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let prompts = system_prompts(&seen);
    assert_eq!(
        prompts[0],
        "Smith house lights: light.kitchen, light.hall. Say {\"intent\": ...} only."
    );
    assert_eq!(
        prompts.last().unwrap(),
        "You are Jarvis, the assistant of the Smith homelab."
    );
    assert!(
        !prompts
            .iter()
            .any(|p| p.contains("hwc-ai-assistant, the read-only")),
        "the built-in system prompt was sent: {prompts:?}"
    );
    shutdown.trigger();
}

#[test]
fn check_config_refuses_an_intent_prompt_without_its_placeholder() {
    let dir = tempfile::tempdir().unwrap();
    let intent = dir.path().join("intent.txt");
    std::fs::write(&intent, "Classify the message; the lights are {light}.").unwrap();
    let config = dir.path().join("assistant.json");
    std::fs::write(
        &config,
        json!({"stateDirectory": "/var/lib/hwc-ai-assistant", "prompts": {"intentFile": intent}})
            .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hwc-ai-assistant"))
        .args(["--check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("prompts.intentFile") && text.contains("unknown placeholder `{light}`"),
        "{text}"
    );
}
