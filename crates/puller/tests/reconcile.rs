//! The puller against the fake Ollama over loopback, through what an
//! operator sees: `/models`, `/health`, `/metrics` and Ollama's own calls.

mod common;

use std::time::Duration;

use common::*;
use hwc_ai_ollama_fake::{CatalogModel, Failure, Fault, Faults, InferenceFault, PullFault};
use hwc_ai_puller::disk::FixedDisk;
use hwc_ai_puller::ModelState;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_and_validates_declared_models_and_reports_them() {
    let fake = fake();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": ["llama3.2:1b", {"name": "nomic-embed-text", "autoUpdate": true}] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon.until("both ready", |d| d.all_ready()).await;

    let llama = model(&doc, "llama3.2:1b");
    assert!(llama.present && llama.valid == Some(true));
    assert_eq!(llama.kind.as_deref(), Some("completion"));
    assert_eq!(
        llama.digest.as_deref(),
        Some(
            fake.installed_model("llama3.2:1b")
                .unwrap()
                .unwrap()
                .digest
                .as_str()
        )
    );
    assert!(llama.last_pull.as_ref().unwrap().success);
    let embed = model(&doc, "nomic-embed-text");
    assert_eq!(embed.kind.as_deref(), Some("embedding"));
    assert!(embed.auto_update);
    assert_eq!(
        fake.calls().embed(),
        1,
        "embedding model validated by /api/embed"
    );
    assert_eq!(
        fake.calls().generate(),
        1,
        "completion model by one generate"
    );
    let generate = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/generate")
        .unwrap();
    assert_eq!(generate.body.unwrap()["options"]["num_predict"], 1);

    let (code, health) = daemon.health().await;
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    assert_eq!(health["models"][0]["state"], "ready");

    let metrics = daemon.metrics().await;
    for (series, value) in [
        ("hwc_ai_puller_model_present{model=\"llama3.2:1b\"}", 1.0),
        ("hwc_ai_puller_model_valid{model=\"nomic-embed-text\"}", 1.0),
        (
            "hwc_ai_puller_model_last_pull_success{model=\"llama3.2:1b\"}",
            1.0,
        ),
        ("hwc_ai_puller_ollama_up", 1.0),
    ] {
        assert_eq!(metric(&metrics, series), Some(value), "{series}\n{metrics}");
    }
    let size = fake.installed_model("llama3.2:1b").unwrap().unwrap().size as f64;
    assert_eq!(
        metric(
            &metrics,
            "hwc_ai_puller_model_size_bytes{model=\"llama3.2:1b\"}"
        ),
        Some(size)
    );
    assert_eq!(
        metric(
            &metrics,
            "hwc_ai_puller_pull_bytes_total{model=\"llama3.2:1b\"}"
        ),
        Some(size),
        "every byte counted once"
    );
    assert!(metrics.contains("hwc_ai_puller_reconcile_last_success_timestamp_seconds"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_down_at_start_is_waited_for_then_reconciled() {
    let addr = free_addr();
    let config = config(
        &format!("http://{addr}"),
        json!({ "models": ["tinyllama"] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon
        .until("Ollama seen down", |d| d.ollama.reachable == Some(false))
        .await;
    assert_eq!(model(&doc, "tinyllama").state, ModelState::Unknown);
    let (code, health) = daemon.health().await;
    assert_eq!(code, 200, "waiting is a state, not a failure: {health}");
    assert_eq!(health["status"], "pending");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let fake = fake();
    let _server = fake.spawn_on(addr).await.unwrap();
    let doc = daemon
        .until("pulled after Ollama came up", |d| d.all_ready())
        .await;
    assert_eq!(doc.ollama.reachable, Some(true));
    assert_eq!(doc.ollama.version.as_deref(), Some("0.12.6"));
    assert!(fake.calls().version() >= 1);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_model_does_not_block_the_good_ones() {
    let fake = fake();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": ["ghost:7b", "tinyllama", "someone/custom:q4"] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon
        .until("good ready, bad failed", |d| {
            model(d, "tinyllama").state == ModelState::Ready
                && model(d, "someone/custom:q4").state == ModelState::Ready
                && model(d, "ghost:7b").state == ModelState::Failed
        })
        .await;
    let ghost = model(&doc, "ghost:7b");
    assert!(
        ghost
            .error
            .as_deref()
            .unwrap()
            .contains("file does not exist"),
        "{ghost:?}"
    );
    assert_eq!(ghost.reason, Some(hwc_ai_puller::ollama::Reason::Http));
    assert!(ghost.next_retry.is_some());
    assert!(!ghost.last_pull.as_ref().unwrap().success);

    let (code, health) = daemon.health().await;
    assert_eq!((code, health["status"].as_str()), (503, Some("degraded")));

    // It retries on its own backoff, and stays degraded meanwhile.
    daemon
        .until("retried", |d| model(d, "ghost:7b").failures >= 3)
        .await;
    assert!(
        fake.calls().pull() >= 3 + 2,
        "ghost three times, the others once"
    );
    assert_eq!(daemon.health().await.0, 503);

    // Published upstream: the next retry gets it.
    fake.publish(CatalogModel::new("ghost:7b").model_size(1000));
    daemon.until("ghost pulled", |d| d.all_ready()).await;
    let metrics = daemon.metrics().await;
    assert!(
        metric(
            &metrics,
            "hwc_ai_puller_pull_failures_total{model=\"ghost:7b\",reason=\"http\"}"
        )
        .unwrap()
            >= 3.0,
        "{metrics}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_line_under_http_200_is_a_failure() {
    let fake = fake();
    fake.set_faults(
        "tinyllama",
        Faults::none().with_pull(Fault::always(PullFault::ErrorLine {
            after_bytes: 5_000,
            message: "max retries exceeded: registry unreachable".into(),
        })),
    )
    .unwrap();
    let server = fake.spawn().await.unwrap();
    let config = config(&server.url(), json!({ "models": ["tinyllama"] }));
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon
        .until("failed", |d| {
            model(d, "tinyllama").state == ModelState::Failed
        })
        .await;
    let m = model(&doc, "tinyllama");
    assert_eq!(m.reason, Some(hwc_ai_puller::ollama::Reason::ErrorLine));
    assert!(
        m.error.as_deref().unwrap().contains("registry unreachable"),
        "{m:?}"
    );
    assert!(!m.present);
    let metrics = daemon.metrics().await;
    assert!(metrics.contains("reason=\"error-line\""), "{metrics}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_resumes_where_it_stopped() {
    let fake = fake();
    fake.set_faults(
        "llama3.2:1b",
        Faults::none().with_pull(Fault::once(PullFault::Drop {
            after_bytes: 15_000,
        })),
    )
    .unwrap();
    let server = fake.spawn().await.unwrap();
    let config = config(&server.url(), json!({ "models": ["llama3.2:1b"] }));
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon.until("ready", |d| d.all_ready()).await;
    let m = model(&doc, "llama3.2:1b");
    assert_eq!(m.failures, 0, "a resumed drop is not a failure: {m:?}");
    assert_eq!(fake.calls().pull(), 2, "dropped once, resumed once");
    let resumed = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/api/pull")
        .count();
    assert_eq!(resumed, 2);
    let size = m.size_bytes.unwrap() as f64;
    let metrics = daemon.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "hwc_ai_puller_pull_bytes_total{model=\"llama3.2:1b\"}"
        ),
        Some(size),
        "resumed bytes are not counted twice"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_below_the_floor_refuses_pulls_until_there_is_room() {
    let fake = fake();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": ["tinyllama"], "disk": { "minFree": "10GiB", "warnUsedRatio": 0.8 } }),
    );
    let disk = FixedDisk::new(5 * GIB, 100 * GIB);
    let daemon = Daemon::start(config, disk.clone()).await;
    let doc = daemon
        .until("refused", |d| {
            model(d, "tinyllama").state == ModelState::Refused
        })
        .await;
    let m = model(&doc, "tinyllama");
    assert!(
        m.error
            .as_deref()
            .unwrap()
            .contains("below the 10.7 GB floor"),
        "{m:?}"
    );
    assert_eq!(fake.calls().pull(), 0, "refused before asking Ollama");
    let disk_doc = doc.disk.as_ref().unwrap();
    assert_eq!(disk_doc.free_bytes, Some(5 * GIB));
    assert!(disk_doc.used_ratio.unwrap() > 0.9);
    let metrics = daemon.metrics().await;
    assert!(metric(&metrics, "hwc_ai_puller_disk_refusals_total").unwrap() >= 1.0);
    assert_eq!(
        metric(&metrics, "hwc_ai_puller_disk_free_bytes"),
        Some((5 * GIB) as f64)
    );
    assert_eq!(
        metric(&metrics, "hwc_ai_puller_disk_used_ratio"),
        Some(0.95)
    );
    // The floor, for the alert that compares free space with it.
    assert_eq!(
        metric(&metrics, "hwc_ai_puller_disk_min_free_bytes"),
        Some(10.0 * GIB as f64)
    );
    let (code, _) = daemon.health().await;
    assert_eq!(code, 503);

    disk.set(50 * GIB, 100 * GIB);
    let (code, doc) = daemon.reconcile("").await;
    assert_eq!(code, 200, "{doc:#?}");
    assert!(doc.all_ready());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_larger_than_the_room_above_the_floor_stops_the_pull() {
    let fake = fake();
    fake.publish(CatalogModel::new("big:70b").model_size(3 * GIB));
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": ["big:70b"], "disk": { "minFree": "1GiB" } }),
    );
    let daemon = Daemon::start(config, FixedDisk::new(2 * GIB, 100 * GIB)).await;
    let doc = daemon
        .until("refused", |d| {
            model(d, "big:70b").state == ModelState::Refused
        })
        .await;
    let m = model(&doc, "big:70b");
    assert!(
        m.error
            .as_deref()
            .unwrap()
            .contains("stopped pulling big:70b"),
        "{m:?}"
    );
    assert_eq!(fake.calls().pull(), 1);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_update_takes_a_new_digest_and_validates_it() {
    let fake = fake();
    fake.install("tinyllama").unwrap();
    fake.install("llama3.2:1b").unwrap();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": [{"name": "tinyllama", "autoUpdate": true}, "llama3.2:1b"] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon.until("validated", |d| d.all_ready()).await;
    let old = model(&doc, "tinyllama").digest.clone().unwrap();
    assert_eq!(fake.calls().pull(), 0, "present models are not pulled");
    assert_eq!(fake.calls().generate(), 2, "but they are proven once");

    let new = fake.change_upstream("tinyllama").unwrap();
    fake.change_upstream("llama3.2:1b").unwrap();
    fake.reset_calls();
    let (code, doc) = daemon.reconcile("&update=true").await;
    assert_eq!(code, 200);
    let m = model(&doc, "tinyllama");
    assert_eq!(m.digest.as_deref(), Some(new.as_str()));
    assert_ne!(old, new);
    assert_eq!(m.valid, Some(true));
    assert_eq!(
        fake.calls().pull(),
        1,
        "only the autoUpdate model is re-pulled"
    );
    assert_eq!(
        fake.calls().generate(),
        1,
        "and the new digest is validated"
    );
    let metrics = daemon.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "hwc_ai_puller_model_updates_total{model=\"tinyllama\"}"
        ),
        Some(1.0)
    );

    // Nothing new upstream: a pull, no new validation.
    fake.reset_calls();
    let (_, doc) = daemon.reconcile("&update=true").await;
    assert_eq!(
        model(&doc, "tinyllama").digest.as_deref(),
        Some(new.as_str())
    );
    assert_eq!((fake.calls().pull(), fake.calls().generate()), (1, 0));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_undeclared_models_but_keeps_keep() {
    let fake = fake();
    for name in [
        "tinyllama",
        "qwen3:0.6b",
        "someone/custom:q4",
        "nomic-embed-text",
    ] {
        fake.install(name).unwrap();
    }
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({
            "models": ["tinyllama"],
            "prune": true,
            "keep": ["someone/custom:q4", "nomic-embed-text:latest"],
        }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon.until("pruned", |d| d.all_ready()).await;
    let mut names: Vec<String> = fake.installed().into_iter().map(|m| m.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "nomic-embed-text:latest",
            "someone/custom:q4",
            "tinyllama:latest"
        ],
        "qwen3 pruned, kept and declared ones stay"
    );
    assert_eq!(fake.calls().delete(), 1);
    let undeclared: Vec<(&str, bool)> = doc
        .models
        .iter()
        .filter(|m| !m.declared)
        .map(|m| (m.name.as_str(), m.kept))
        .collect();
    assert_eq!(
        undeclared,
        [
            ("nomic-embed-text:latest", true),
            ("someone/custom:q4", true)
        ]
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_prune_undeclared_models_are_listed_and_left_alone() {
    let fake = fake();
    fake.install("qwen3:0.6b").unwrap();
    let server = fake.spawn().await.unwrap();
    let config = config(&server.url(), json!({ "models": ["tinyllama"] }));
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon.until("ready", |d| d.all_ready()).await;
    let q = model(&doc, "qwen3:0.6b");
    assert!(!q.declared && !q.kept && q.state == ModelState::Undeclared);
    assert_eq!(fake.calls().delete(), 0);
    let metrics = daemon.metrics().await;
    assert_eq!(
        metric(&metrics, "hwc_ai_puller_undeclared_models"),
        Some(1.0)
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_failing_validation_is_invalid_with_the_reason_and_retried() {
    let fake = fake();
    fake.install("qwen3:0.6b").unwrap();
    fake.install("nomic-embed-text").unwrap();
    fake.set_faults(
        "qwen3:0.6b",
        Faults::none().with_generate(Fault::always(InferenceFault::Reject(Failure::new(
            500,
            "llama runner process has terminated: exit status 2",
        )))),
    )
    .unwrap();
    fake.set_faults(
        "nomic-embed-text",
        Faults::none().with_embed(Fault::once(Failure::new(500, "embedding runner crashed"))),
    )
    .unwrap();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": ["qwen3:0.6b", "nomic-embed-text"] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon
        .until("qwen invalid", |d| {
            model(d, "qwen3:0.6b").state == ModelState::Invalid
        })
        .await;
    let q = model(&doc, "qwen3:0.6b");
    assert_eq!(q.valid, Some(false));
    assert_eq!(q.reason, Some(hwc_ai_puller::ollama::Reason::Invalid));
    assert!(
        q.error
            .as_deref()
            .unwrap()
            .contains("runner process has terminated"),
        "{q:?}"
    );
    let (code, health) = daemon.health().await;
    assert_eq!(code, 503);
    assert_eq!(health["models"][0]["state"], "invalid");

    // The embedding model failed once and is valid on its retry.
    daemon
        .until("embed retried", |d| {
            model(d, "nomic-embed-text").state == ModelState::Ready
        })
        .await;

    // Fixed: retried on the next cycle and valid.
    fake.clear_faults();
    daemon.until("qwen valid", |d| d.all_ready()).await;
    let metrics = daemon.metrics().await;
    assert!(
        metric(
            &metrics,
            "hwc_ai_puller_validation_failures_total{model=\"qwen3:0.6b\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        metric(&metrics, "hwc_ai_puller_model_valid{model=\"qwen3:0.6b\"}"),
        Some(1.0)
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_off_means_present_is_ready() {
    let fake = fake();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": [{"name": "tinyllama", "validate": false}] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    daemon.until("ready", |d| d.all_ready()).await;
    assert_eq!(fake.calls().show() + fake.calls().generate(), 0);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_reconcile_of_200_models_is_one_tags_call() {
    let mut catalog = Vec::new();
    for i in 0..200 {
        catalog.push(CatalogModel::new(&format!("model{i:03}:q4")).model_size(1000));
    }
    let fake = hwc_ai_ollama_fake::FakeOllama::new(catalog);
    let names: Vec<String> = (0..200).map(|i| format!("model{i:03}:q4")).collect();
    for name in &names {
        fake.install(name).unwrap();
    }
    let server = fake.spawn().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let config = config(
        &server.url(),
        json!({ "models": names, "stateFile": state }),
    );
    let daemon = Daemon::start(config.clone(), roomy_disk()).await;
    daemon.until("all validated", |d| d.all_ready()).await;
    assert_eq!(fake.calls().generate(), 200, "each proven once");

    fake.reset_calls();
    let (code, doc) = daemon.reconcile("").await;
    assert_eq!(code, 200);
    assert!(doc.all_ready());
    let calls = fake.calls();
    assert_eq!(calls.tags(), 1, "{calls:?}");
    assert_eq!(calls.total(), 1, "nothing but /api/tags: {calls:?}");
    daemon.stop().await;

    // A restart remembers what was proven (stateFile): one call again.
    fake.reset_calls();
    let doc = hwc_ai_puller::once(
        config,
        hwc_ai_puller::Options {
            disk: std::sync::Arc::new(roomy_disk()),
        },
        hwc_ai_runtime::Shutdown::new(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(doc.all_ready());
    let calls = fake.calls();
    assert_eq!(
        (calls.tags(), calls.version(), calls.total()),
        (1, 1, 2),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_are_capped() {
    let fake = fake();
    fake.set_pull_speed(hwc_ai_ollama_fake::PullSpeed::Steps {
        steps: 10,
        tick: Duration::from_millis(10),
    });
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": ["tinyllama", "llama3.2:1b", "qwen3:0.6b"], "maxConcurrentPulls": 1 }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let mut most = 0;
    loop {
        let doc = daemon.models().await;
        let pulling = doc
            .models
            .iter()
            .filter(|m| m.state == ModelState::Pulling)
            .count();
        most = most.max(pulling);
        if let Some(p) = doc.models.iter().find_map(|m| m.progress) {
            assert!(p.completed_bytes <= p.total_bytes);
        }
        if doc.all_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(most, 1);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_update_keeps_the_old_model_and_retries_on_its_backoff() {
    let fake = fake();
    fake.install("tinyllama").unwrap();
    let server = fake.spawn().await.unwrap();
    let config = config(
        &server.url(),
        json!({ "models": [{"name": "tinyllama", "autoUpdate": true}] }),
    );
    let daemon = Daemon::start(config, roomy_disk()).await;
    let doc = daemon.until("ready", |d| d.all_ready()).await;
    let old = model(&doc, "tinyllama").digest.clone().unwrap();

    let new = fake.change_upstream("tinyllama").unwrap();
    fake.set_faults(
        "tinyllama",
        Faults::none().with_pull(Fault::once(PullFault::Reject(Failure::new(
            503,
            "registry unavailable",
        )))),
    )
    .unwrap();
    let (_, doc) = daemon.reconcile("&update=true").await;
    let m = model(&doc, "tinyllama");
    assert_eq!(
        m.state,
        ModelState::Ready,
        "the old copy still serves: {m:?}"
    );
    assert_eq!(m.digest.as_deref(), Some(old.as_str()));
    assert!(
        m.error.as_deref().unwrap().contains("registry unavailable"),
        "{m:?}"
    );
    assert_eq!(daemon.health().await.0, 503, "a failed update is degraded");

    // No new update run is needed: the failed update retries on its own.
    let doc = daemon
        .until("updated on retry", |d| {
            model(d, "tinyllama").digest.as_deref() == Some(new.as_str())
        })
        .await;
    assert_eq!(model(&doc, "tinyllama").failures, 0);
    daemon.until("validated", |d| d.all_ready()).await;
    assert_eq!(daemon.health().await.0, 200);
    daemon.stop().await;
}
