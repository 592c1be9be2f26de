//! `ai_stack` against the real hwc-ai daemons (prober, puller, router,
//! run in this process in front of the fake Ollama), and `alerts` against
//! an Alertmanager that answers with its v2 API's JSON.

use std::time::Duration;

use axum::Json;
use hwc_ai_assistant::direct;
use hwc_ai_assistant::tools::Tools;
use hwc_ai_ollama_fake::FakeOllama;
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_stack_is_read_from_the_daemons_themselves() {
    let fake = FakeOllama::builtin();
    fake.install("llama3.2:3b").unwrap();
    let ollama = fake.spawn().await.unwrap();
    let closed = format!("http://{}", free_addr()); // nothing listens there

    let prober: hwc_ai_prober::Config = hwc_ai_runtime::config::parse(
        &json!({"defaults": {"interval": "200ms", "timeout": "1s"}, "targets": [
            {"name": "ollama", "kind": "ollama", "url": ollama.url()},
            {"name": "open-webui", "kind": "http", "url": closed},
        ]})
        .to_string(),
    )
    .unwrap();
    let prober = Embedded::start(|ctx| hwc_ai_prober::run(prober, ctx));
    let prober_url = prober.url.clone();

    let puller: hwc_ai_puller::Config = hwc_ai_runtime::config::parse(
        &json!({"ollamaUrl": ollama.url(), "models": ["llama3.2:3b"], "disk": {"path": "/", "minFree": 0}}).to_string(),
    )
    .unwrap();
    let puller = Embedded::start(|ctx| hwc_ai_puller::run(puller, ctx));
    let puller_url = puller.url.clone();

    let router: hwc_ai_router::Config = hwc_ai_runtime::config::parse(
        &json!({"backends": [{"name": "ollama", "kind": "openai-compatible", "baseUrl": format!("{}/v1", ollama.url())}],
                "routes": [{"model": "*", "targets": [{"backend": "ollama"}]}]})
        .to_string(),
    )
    .unwrap();
    let router = Embedded::start(|ctx| hwc_ai_router::run(router, ctx));
    let router_url = router.url.clone();

    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(
        &json!({"stateDirectory": "/nonexistent", "tools": ["ai_stack"],
                "stack": {"proberUrl": prober_url, "pullerUrl": puller_url, "routerUrl": router_url}})
        .to_string(),
    )
    .unwrap();
    let tools = Tools::new(&config).await.unwrap();
    let mut stack = Value::Null;
    for _ in 0..100 {
        stack = tools.call("ai_stack", &json!({})).await.unwrap();
        let states: Vec<&str> = stack["prober"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["state"].as_str())
            .collect();
        let model = stack["puller"]["models"][0]["state"]
            .as_str()
            .unwrap_or_default();
        if states == ["up", "down"] && model == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack["prober"]["targets"][0]["name"], "ollama", "{stack:#}");
    assert_eq!(stack["prober"]["targets"][0]["state"], "up", "{stack:#}");
    assert_eq!(stack["prober"]["targets"][1]["state"], "down", "{stack:#}");
    assert!(
        stack["prober"]["targets"][1]["lastError"].is_string(),
        "{stack:#}"
    );
    assert_eq!(
        stack["puller"]["models"][0]["name"], "llama3.2:3b",
        "{stack:#}"
    );
    assert_eq!(stack["puller"]["models"][0]["state"], "ready", "{stack:#}");
    assert_eq!(stack["router"]["status"], "ok", "{stack:#}");
    assert_eq!(
        stack["router"]["targets"][0]["circuit"], "closed",
        "{stack:#}"
    );

    // A daemon that does not answer is said, the rest still shown.
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(
        &json!({"stateDirectory": "/nonexistent", "tools": ["ai_stack"],
                "stack": {"proberUrl": prober_url, "pullerUrl": closed, "routerUrl": router_url}})
        .to_string(),
    )
    .unwrap();
    let partial = Tools::new(&config)
        .await
        .unwrap()
        .call("ai_stack", &json!({}))
        .await
        .unwrap();
    assert!(
        partial["puller"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{partial:#}"
    );
    assert_eq!(partial["router"]["status"], "ok");
    for daemon in [prober, puller, router] {
        daemon.shutdown.trigger();
    }
}

#[tokio::test]
async fn alerts_come_from_alertmanager_active_and_unsilenced() {
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::get(|query: axum::extract::RawQuery| async move {
            // The tool must ask for active, unsilenced, uninhibited alerts.
            assert_eq!(query.0.as_deref(), Some("active=true&silenced=false&inhibited=false"));
            Json(json!([{
                "labels": {"alertname": "DiskAlmostFull", "severity": "warning", "instance": "homelab"},
                "annotations": {"summary": "/ is 91% full"},
                "startsAt": "2026-11-22T08:00:00Z",
                "status": {"state": "active"}
            }]))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(
        &json!({"stateDirectory": "/nonexistent", "tools": ["alerts"], "alerts": {"alertmanagerUrl": url}}).to_string(),
    )
    .unwrap();
    let tools = Tools::new(&config).await.unwrap();
    let alerts = tools.call("alerts", &json!({})).await.unwrap();
    assert_eq!(alerts["source"], "alertmanager");
    assert_eq!(alerts["alerts"][0]["name"], "DiskAlmostFull");
    assert_eq!(alerts["alerts"][0]["summary"], "/ is 91% full");
    // Without a model, "Are there any alerts?" is answered from them.
    let question = direct::recognise("Are there any alerts?").unwrap();
    let (reply, _) = direct::answer(&tools, question).await;
    assert!(
        reply.contains(
            "- Alerts: 1 active (alertmanager): DiskAlmostFull (warning): / is 91% full, since 2026-11-22T08:00:00Z."
        ),
        "{reply}"
    );
    let none: hwc_ai_assistant::Config =
        hwc_ai_runtime::config::parse(r#"{"stateDirectory": "/x", "tools": ["alerts"]}"#).unwrap();
    let err = Tools::new(&none)
        .await
        .unwrap()
        .call("alerts", &json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no Alertmanager or Prometheus"),
        "{err}"
    );
}
