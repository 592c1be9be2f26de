//! `ai.v1.AIService/Query` over real gRPC on loopback, with tonic's
//! client: the plan's answers and status codes, the client keys, the
//! health service, deadlines and shutdown — in front of a scripted model
//! and a fake Home Assistant.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use hwc_ai_assistant::grpc::proto::ai_service_client::AiServiceClient;
use hwc_ai_assistant::grpc::proto::{QueryRequest, QueryResponse};
use hwc_ai_test_support::{free_port, Embedded};
use serde_json::{json, Value};
use tonic::transport::Channel;
use tonic::Code;

/// A model that answers every request with the next scripted text, after
/// `delay`.
async fn start_model(replies: Vec<&'static str>, delay: Duration) -> String {
    let replies = Arc::new(Mutex::new(replies));
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let replies = replies.clone();
            async move {
                tokio::time::sleep(delay).await;
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
    serve(app).await
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Home Assistant's light services; `up: false` answers 500 to them.
async fn start_ha(up: bool) -> (Arc<Mutex<Vec<String>>>, String) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/api/services/light/{service}",
            axum::routing::post(
                move |State(calls): State<Arc<Mutex<Vec<String>>>>,
                      Path(service): Path<String>,
                      Json(body): Json<Value>| async move {
                    if !up {
                        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    }
                    calls.lock().unwrap().push(format!(
                        "{service} {}",
                        body["entity_id"].as_str().unwrap_or("?")
                    ));
                    Json(json!([])).into_response()
                },
            ),
        )
        .with_state(calls.clone());
    (calls, serve(app).await)
}

struct Assistant {
    grpc: String,
    state: tempfile::TempDir,
    /// Taken by the test that stops it and asserts how `run()` ended.
    daemon: Option<Embedded>,
}

impl Drop for Assistant {
    fn drop(&mut self) {
        if let Some(daemon) = &self.daemon {
            daemon.shutdown.trigger();
        }
    }
}

async fn start(model: &str, ha_url: Option<&str>) -> Assistant {
    start_with(model, ha_url, json!({})).await
}

async fn start_with(model: &str, ha_url: Option<&str>, extra: Value) -> Assistant {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("bot.key"), "k-bot\n").unwrap();
    std::fs::write(state.path().join("ha.token"), "ha-token\n").unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let mut doc = json!({
        "stateDirectory": state.path().join("state"),
        "router": {"url": model},
        "tools": ["disk_usage", "ha_light_on", "ha_light_off"],
        "clients": {"allowUnauthenticatedLoopback": false, "keys": [
            {"name": "bot", "key": {"file": state.path().join("bot.key")}}
        ]},
        "grpc": {"listen": grpc},
    });
    doc.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    if let Some(ha_url) = ha_url {
        doc["homeAssistant"] = json!({
            "url": ha_url,
            "token": {"file": state.path().join("ha.token")},
            "actions": {"enable": true, "entities": ["light.kitchen"]}
        });
    }
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
    let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let assistant = Assistant {
        grpc: format!("http://{grpc}"),
        state,
        daemon: Some(daemon),
    };
    for _ in 0..100 {
        if Channel::from_shared(assistant.grpc.clone())
            .unwrap()
            .connect()
            .await
            .is_ok()
        {
            return assistant;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gRPC never came up on {}", assistant.grpc);
}

impl Assistant {
    async fn client(&self) -> AiServiceClient<Channel> {
        AiServiceClient::connect(self.grpc.clone()).await.unwrap()
    }

    async fn query(&self, key: Option<&str>, text: &str) -> Result<QueryResponse, tonic::Status> {
        let mut request = tonic::Request::new(QueryRequest {
            text: text.into(),
            source: "discord".into(),
        });
        if let Some(key) = key {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        self.client()
            .await
            .query(request)
            .await
            .map(|r| r.into_inner())
    }
}

#[tokio::test]
async fn answers_and_status_codes_follow_the_plan() {
    let model = start_model(vec!["Hello from the model."], Duration::ZERO).await;
    let a = start(&model, None).await;

    let answer = a.query(Some("k-bot"), "what is a homelab?").await.unwrap();
    assert_eq!(answer.reply, "Hello from the model.");
    assert_eq!(answer.intent, "question");
    assert!(!answer.action_taken);

    let refused = a.query(Some("k-bot"), "reboot the box").await.unwrap();
    assert_eq!(refused.intent, "refused");
    assert!(refused.reply.contains("read-only"), "{}", refused.reply);
    assert!(!refused.action_taken);

    let missing = a.query(None, "hello").await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    let wrong = a.query(Some("k-nope"), "hello").await.unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied, "{wrong:?}");
    let empty = a.query(Some("k-bot"), "  ").await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
    assert!(empty.message().contains("text"), "{empty:?}");

    // Audited like HTTP, with the bot's source.
    let rows =
        hwc_ai_assistant::audit::tail_file(&a.state.path().join("state/audit.db"), 10).unwrap();
    assert!(
        rows.iter().any(|r| r.entry.client == "bot via discord"),
        "{:?}",
        rows.iter().map(|r| &r.entry.client).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_model_that_cannot_be_reached_is_unavailable() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let a = start(&closed, None).await;
    let err = a
        .query(Some("k-bot"), "write me a poem about llamas")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test]
async fn home_assistant_answers_follow_the_plan() {
    let (calls, ha) = start_ha(true).await;
    let model = start_model(
        vec![
            r#"{"intent": "light_on", "entity": "light.kitchen"}"#,
            "lights, probably?",
        ],
        Duration::ZERO,
    )
    .await;
    let a = start(&model, Some(&ha)).await;
    let on = a.query(Some("k-bot"), "kitchen light on").await.unwrap();
    assert_eq!(
        (on.intent.as_str(), on.action_taken),
        ("light_on", true),
        "{on:?}"
    );
    assert_eq!(*calls.lock().unwrap(), vec!["turn_on light.kitchen"]);
    let unknown = a.query(Some("k-bot"), "blorp").await.unwrap();
    assert_eq!(unknown.reply, "I didn't understand that.");
    assert!(!unknown.action_taken);

    let (_, down) = start_ha(false).await;
    let model = start_model(
        vec![r#"{"intent": "light_off", "entity": "light.kitchen"}"#],
        Duration::ZERO,
    )
    .await;
    let b = start(&model, Some(&down)).await;
    let failed = b.query(Some("k-bot"), "kitchen light off").await.unwrap();
    assert_eq!(failed.reply, "I couldn't reach Home Assistant right now.");
    assert_eq!(failed.intent, "light_off");
    assert!(!failed.action_taken);
}

#[tokio::test]
async fn health_says_serving_until_shutdown_and_deadlines_are_honoured() {
    let model = start_model(vec!["slow"], Duration::from_secs(5)).await;
    let mut a = start(&model, None).await;
    let channel = Channel::from_shared(a.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "ai.v1.AIService"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }

    // The model takes 5 s; the caller allows 300 ms.
    let mut request = tonic::Request::new(QueryRequest {
        text: "what is a homelab?".into(),
        source: String::new(),
    });
    // Sent as metadata over a plain HTTP/2 client: tonic's own client
    // (`set_timeout`, or the header over a Channel) would give up by
    // itself, and the server's answer is what is tested here.
    request
        .metadata_mut()
        .insert("grpc-timeout", "300m".parse().unwrap());
    request
        .metadata_mut()
        .insert("authorization", "Bearer k-bot".parse().unwrap());
    let started = Instant::now();
    let http2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<tonic::body::Body>();
    let mut plain = AiServiceClient::with_origin(http2, a.grpc.parse().unwrap());
    let err = plain.query(request).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");

    // SIGTERM: both servers stop, and run() returns cleanly.
    let result = a
        .daemon
        .take()
        .unwrap()
        .stop_within(Duration::from_secs(15))
        .await
        .expect("run() returns after shutdown");
    assert!(result.is_ok(), "{result:?}");
    assert!(AiServiceClient::connect(a.grpc.clone()).await.is_err());
}

#[tokio::test]
async fn over_the_rate_limit_is_resource_exhausted() {
    let model = start_model(vec!["one", "two"], Duration::ZERO).await;
    let a = start_with(
        &model,
        None,
        json!({"rateLimit": {"requestsPerMinute": 1, "burst": 1}}),
    )
    .await;
    a.query(Some("k-bot"), "what is a homelab?").await.unwrap();
    let err = a
        .query(Some("k-bot"), "what is a homelab?")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("`bot`"), "{err:?}");
}
