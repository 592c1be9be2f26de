//! `/api/pull` as the reference describes it, faults and resumption.

mod common;

use std::time::{Duration, Instant};

use common::{get, post, small_fake, stream};
use hwc_ai_ollama_fake::{Failure, Fault, Faults, PullFault, PullSpeed};
use serde_json::{json, Value};

fn status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or("")
}

#[tokio::test]
async fn pull_streams_every_layer_then_success() {
    let server = small_fake().spawn().await.unwrap();
    server.set_pull_speed(PullSpeed::Steps {
        steps: 4,
        tick: Duration::from_millis(10),
    });
    let upstream = server.catalog_model("llama3.2:3b").unwrap().unwrap();
    assert!(upstream.layers.len() >= 3, "a multi-layer model");

    let s = stream(
        &format!("{}/api/pull", server.url()),
        json!({"model": "llama3.2:3b"}),
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.content_type, "application/x-ndjson");
    assert!(!s.cut);
    // `status` first, as Ollama writes it (some clients match on text).
    assert!(s.lines.iter().all(|(_, l)| l.starts_with("{\"status\":")));
    let lines = s.json();
    assert_eq!(status(&lines[0]), "pulling manifest");
    let tail: Vec<&str> = lines[lines.len() - 4..].iter().map(status).collect();
    assert_eq!(
        tail,
        [
            "verifying sha256 digest",
            "writing manifest",
            "removing any unused layers",
            "success"
        ]
    );

    // Layers one after another, in manifest order, each from no
    // `completed` up to its total.
    let progress = &lines[1..lines.len() - 4];
    let mut order: Vec<&str> = Vec::new();
    for line in progress {
        let digest = line["digest"].as_str().unwrap();
        assert_eq!(status(line), format!("downloading {digest}"));
        if order.last() != Some(&digest) {
            assert!(!order.contains(&digest), "layer {digest} came back");
            assert!(
                line.get("completed").is_none(),
                "first line of a layer: {line}"
            );
            order.push(digest);
        }
    }
    let expected: Vec<&str> = upstream.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(order, expected);
    for layer in &upstream.layers {
        let completed: Vec<u64> = progress
            .iter()
            .filter(|l| l["digest"] == layer.digest.as_str())
            .filter_map(|l| l["completed"].as_u64())
            .collect();
        assert!(completed.len() >= 2, "several progress lines per layer");
        assert!(completed.windows(2).all(|w| w[0] < w[1]), "{completed:?}");
        assert_eq!(*completed.last().unwrap(), layer.size);
        for l in progress
            .iter()
            .filter(|l| l["digest"] == layer.digest.as_str())
        {
            assert_eq!(l["total"], layer.size);
        }
    }
    // Progress arrives over time, not in one burst.
    let first = s.lines[1].0;
    let last = s.lines[s.lines.len() - 5].0;
    assert!(
        last - first >= Duration::from_millis(40),
        "{:?}",
        last - first
    );

    let (code, tags) = get(&format!("{}/api/tags", server.url())).await;
    assert_eq!(code, 200);
    assert_eq!(tags["models"][0]["name"], "llama3.2:3b");
    assert_eq!(tags["models"][0]["digest"], upstream.digest());
}

#[tokio::test]
async fn pull_accepts_name_and_stream_false() {
    let server = small_fake().spawn().await.unwrap();
    let resp = common::client()
        .post(format!("{}/api/pull", server.url()))
        .json(&json!({"name": "tinyllama", "stream": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "success"})
    );
    // The default tag is filled in.
    let installed = server.installed();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].name, "tinyllama:latest");
}

#[tokio::test]
async fn malformed_name_is_400_before_streaming() {
    let server = small_fake().spawn().await.unwrap();
    let url = format!("{}/api/pull", server.url());
    for bad in ["", "bad name", "a/b/c/d", "model:"] {
        let (code, body) = post(&url, json!({"model": bad})).await;
        assert_eq!(code, 400, "{bad:?}");
        assert_eq!(body, json!({"error": "invalid model name"}));
    }
    let resp = common::client().post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": "missing request body"})
    );
}

#[tokio::test]
async fn unknown_model_is_500_when_nothing_streamed() {
    let server = small_fake().spawn().await.unwrap();
    let url = format!("{}/api/pull", server.url());
    for stream in [true, false] {
        let (code, body) = post(&url, json!({"model": "no-such-model", "stream": stream})).await;
        assert_eq!(code, 500);
        assert_eq!(
            body,
            json!({"error": "pull model manifest: file does not exist"})
        );
    }
    assert!(server.installed().is_empty());
}

#[tokio::test]
async fn error_line_under_200_after_streaming_began() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.set_faults(
        "llama3.2:3b",
        Faults::none().with_pull(Fault::once(PullFault::ErrorLine {
            after_bytes: 2500,
            message: "max retries exceeded: unexpected EOF".into(),
        })),
    )
    .unwrap();
    let s = stream(
        &format!("{}/api/pull", server.url()),
        json!({"model": "llama3.2:3b"}),
    )
    .await;
    assert_eq!(s.status, 200);
    assert!(!s.cut);
    let lines = s.json();
    assert_eq!(status(&lines[0]), "pulling manifest");
    assert!(lines.len() > 2, "progress came first");
    assert_eq!(
        lines.last().unwrap(),
        &json!({"error": "max retries exceeded: unexpected EOF"})
    );
    assert!(!lines.iter().any(|l| status(l) == "success"));
    assert!(fake.installed().is_empty());

    // The same shape for a model the registry does not have.
    fake.set_faults(
        "ghost",
        Faults::none().with_pull(Fault::always(PullFault::ErrorLine {
            after_bytes: 0,
            message: "pull model manifest: file does not exist".into(),
        })),
    )
    .unwrap();
    let s = stream(
        &format!("{}/api/pull", server.url()),
        json!({"model": "ghost"}),
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.json(),
        [
            json!({"status": "pulling manifest"}),
            json!({"error": "pull model manifest: file does not exist"})
        ]
    );

    // Under stream:false the error is the HTTP status.
    let (code, body) = post(
        &format!("{}/api/pull", server.url()),
        json!({"model": "ghost", "stream": false}),
    )
    .await;
    assert_eq!(code, 500);
    assert_eq!(
        body,
        json!({"error": "pull model manifest: file does not exist"})
    );
}

#[tokio::test]
async fn dropped_pull_resumes_where_it_stopped() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.set_pull_speed(PullSpeed::Rate {
        bytes_per_tick: 500,
        tick: Duration::from_millis(1),
    });
    fake.set_faults(
        "llama3.2:3b",
        Faults::none().with_pull(Fault::once(PullFault::Drop { after_bytes: 1500 })),
    )
    .unwrap();
    let weights = fake.catalog_model("llama3.2:3b").unwrap().unwrap().layers[0].clone();
    assert_eq!(weights.size, 4000);

    let url = format!("{}/api/pull", server.url());
    let first = stream(&url, json!({"model": "llama3.2:3b"})).await;
    assert_eq!(first.status, 200);
    assert!(first.cut, "the connection was cut mid-body");
    let last = first.json().last().cloned().unwrap();
    assert_eq!(last["completed"], 1500, "{last}");
    assert_eq!(fake.partial_bytes(&weights.digest), 1500);
    assert!(fake.installed().is_empty());

    let second = stream(&url, json!({"model": "llama3.2:3b"})).await;
    assert!(!second.cut);
    let lines = second.json();
    let weights_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["digest"] == weights.digest.as_str())
        .collect();
    assert_eq!(
        weights_lines[0]["completed"], 1500,
        "resumes from the previous completed"
    );
    assert_eq!(weights_lines[1]["completed"], 2000);
    assert_eq!(weights_lines.last().unwrap()["completed"], 4000);
    assert_eq!(status(lines.last().unwrap()), "success");
    assert_eq!(fake.partial_bytes(&weights.digest), 0);
    assert!(fake.has_blob(&weights.digest));
}

#[tokio::test]
async fn repull_of_installed_model_reports_layers_complete() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.install("tinyllama").unwrap();
    let s = stream(
        &format!("{}/api/pull", server.url()),
        json!({"model": "tinyllama"}),
    )
    .await;
    let lines = s.json();
    for l in lines.iter().filter(|l| l.get("digest").is_some()) {
        assert_eq!(l["completed"], l["total"], "{l}");
    }
    assert_eq!(status(lines.last().unwrap()), "success");
}

#[tokio::test]
async fn upstream_change_brings_a_new_digest_and_prunes_old_layers() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    let old = fake.install("tinyllama").unwrap();
    let old_weights = old.model.layers[0].digest.clone();
    let new_digest = fake.change_upstream("tinyllama").unwrap();
    assert_ne!(new_digest, old.digest);
    // Installed copies keep their digest until pulled again.
    assert_eq!(
        fake.installed_model("tinyllama").unwrap().unwrap().digest,
        old.digest
    );

    let s = stream(
        &format!("{}/api/pull", server.url()),
        json!({"model": "tinyllama"}),
    )
    .await;
    assert_eq!(status(s.json().last().unwrap()), "success");
    let (_, tags) = get(&format!("{}/api/tags", server.url())).await;
    assert_eq!(tags["models"][0]["digest"], new_digest);
    assert!(
        !fake.has_blob(&old_weights),
        "the replaced weights were removed"
    );
}

#[tokio::test]
async fn rejected_pulls_fail_a_set_number_of_times() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.set_global_faults(Faults::none().with_pull(Fault::times(
        PullFault::Reject(Failure::new(503, "registry unavailable")),
        2,
    )));
    let url = format!("{}/api/pull", server.url());
    for _ in 0..2 {
        let (code, body) = post(&url, json!({"model": "tinyllama", "stream": false})).await;
        assert_eq!(
            (code, body),
            (503, json!({"error": "registry unavailable"}))
        );
    }
    let (code, body) = post(&url, json!({"model": "tinyllama", "stream": false})).await;
    assert_eq!((code, body), (200, json!({"status": "success"})));
    assert_eq!(fake.calls().pull(), 3);
}

#[tokio::test]
async fn slow_progress_and_delay_per_model() {
    let fake = small_fake();
    let server = fake.spawn().await.unwrap();
    fake.set_faults(
        "tinyllama",
        Faults::none()
            .with_delay(Duration::from_millis(150))
            .with_pull_speed(PullSpeed::Steps {
                steps: 2,
                tick: Duration::from_millis(30),
            }),
    )
    .unwrap();
    let started = Instant::now();
    let resp = common::client()
        .post(format!("{}/api/pull", server.url()))
        .json(&json!({"model": "tinyllama"}))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "headers waited"
    );
    resp.text().await.unwrap();
    // 5 layers, 2 ticks each, 30 ms a tick.
    assert!(started.elapsed() >= Duration::from_millis(150 + 5 * 2 * 30));

    // Other models are unaffected.
    let started = Instant::now();
    post(
        &format!("{}/api/pull", server.url()),
        json!({"model": "nomic-embed-text", "stream": false}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn stopping_cuts_a_pull_and_the_store_survives_a_restart() {
    let fake = small_fake();
    fake.set_pull_speed(PullSpeed::Rate {
        bytes_per_tick: 100,
        tick: Duration::from_millis(5),
    });
    let server = fake.spawn().await.unwrap();
    let addr = server.addr();
    fake.install("tinyllama").unwrap();

    let url = format!("{}/api/pull", server.url());
    let pull = tokio::spawn(async move { stream(&url, json!({"model": "llama3.2:3b"})).await });
    tokio::time::sleep(Duration::from_millis(60)).await;
    server.stop().await;
    let cut = pull.await.unwrap();
    assert!(cut.cut, "an open stream is cut when the server stops");
    assert!(
        common::client()
            .get(format!("http://{addr}/api/version"))
            .send()
            .await
            .is_err(),
        "down"
    );

    let server = fake.spawn_on(addr).await.unwrap();
    let (code, tags) = get(&format!("{}/api/tags", server.url())).await;
    assert_eq!(code, 200);
    assert_eq!(tags["models"][0]["name"], "tinyllama:latest");
    let weights = &fake.catalog_model("llama3.2:3b").unwrap().unwrap().layers[0];
    assert!(
        fake.partial_bytes(&weights.digest) > 0,
        "partial download kept"
    );
}

#[tokio::test]
async fn fake_can_come_up_later_on_a_chosen_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/api/version");
    assert!(common::client().get(&url).send().await.is_err());
    let fake = small_fake();
    let server = fake.spawn_on(([127, 0, 0, 1], port).into()).await.unwrap();
    let (code, body) = get(&url).await;
    assert_eq!((code, body), (200, json!({"version": "0.12.6"})));
    server.stop().await;
}
