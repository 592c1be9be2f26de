//! `POST /api/pull`: a registry download, simulated layer by layer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{cut_connection, dropped, error, model_delay, ndjson, parse, streaming, ApiError};
use crate::catalog::CatalogModel;
use crate::fake::FakeOllama;
use crate::fault::{PullFault, PULL_MANIFEST_ERROR};
use crate::name::ModelName;

#[derive(Deserialize)]
struct PullRequest {
    #[serde(default)]
    model: String,
    /// What older clients send instead of `model`.
    #[serde(default)]
    name: String,
    #[serde(default)]
    stream: Option<bool>,
}

/// A progress line, fields in Ollama's order (`status` first), the
/// optional ones left out when unset as Go's `omitempty` does.
#[derive(Serialize)]
struct Progress<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<u64>,
}

fn status(status: &str) -> String {
    progress(status, None, None, None)
}

/// One progress object as JSON text. Written straight from the struct:
/// going through `serde_json::Value` would sort the keys.
fn progress(
    status: &str,
    digest: Option<&str>,
    total: Option<u64>,
    completed: Option<u64>,
) -> String {
    serde_json::to_string(&Progress {
        status,
        digest,
        total,
        completed,
    })
    .expect("progress serializes")
}

/// What the simulated download produces, in order.
enum Event {
    /// A progress object, serialized.
    Line(String),
    /// `{"error": ...}` under HTTP 200, then the end.
    Error(String),
    /// The connection is cut.
    Drop,
}

pub(super) async fn pull(
    State(fake): State<FakeOllama>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: PullRequest = parse(&body)?;
    let raw = if req.model.is_empty() {
        req.name
    } else {
        req.model
    };
    let name = ModelName::parse(&raw).map_err(|e| {
        tracing::info!(error = %e, "pull rejected");
        ApiError::new(StatusCode::BAD_REQUEST, "invalid model name")
    })?;
    let key = name.key();
    model_delay(&fake, &key).await;

    let (fault, upstream) = {
        let mut st = fake.lock();
        (st.fire_pull(&key), st.catalog.get(&key).cloned())
    };
    let fault = match fault {
        Some(PullFault::Reject(f)) => return Err(ApiError::from_code(f.status, f.message)),
        other => other,
    };
    // Without a manifest, nothing streams unless a fault says the failure
    // comes after "pulling manifest".
    if upstream.is_none() && fault.is_none() {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            PULL_MANIFEST_ERROR,
        ));
    }
    let events = download(fake, key, upstream, fault);

    if req.stream == Some(false) {
        return Ok(wait_for(events).await);
    }
    let body = events.map(|event| match event {
        Event::Line(line) => Ok(Bytes::from(line + "\n")),
        Event::Error(message) => Ok(ndjson(&json!({ "error": message }))),
        Event::Drop => Err(dropped()),
    });
    Ok(streaming("application/x-ndjson", body))
}

/// `stream: false`: the whole pull happens, then one answer.
async fn wait_for(events: impl Stream<Item = Event>) -> Response {
    let mut events = std::pin::pin!(events);
    let mut last = None;
    while let Some(event) = events.next().await {
        match event {
            Event::Line(v) => last = Some(v),
            Event::Error(message) => return error(StatusCode::INTERNAL_SERVER_ERROR, message),
            Event::Drop => return cut_connection(),
        }
    }
    let last = last.unwrap_or_else(|| status("success"));
    ([(header::CONTENT_TYPE, "application/json")], last).into_response()
}

/// The pull as a stream of events, updating the store as bytes "arrive":
/// if the client goes away or the connection is cut, what was downloaded
/// stays and the next pull resumes from it.
fn download(
    fake: FakeOllama,
    key: String,
    upstream: Option<CatalogModel>,
    fault: Option<PullFault>,
) -> impl Stream<Item = Event> + Send + 'static {
    async_stream::stream! {
        yield Event::Line(status("pulling manifest"));

        // The fault, if any, fires once this many bytes came in this pull.
        let trigger = match &fault {
            Some(PullFault::ErrorLine { after_bytes, .. }) | Some(PullFault::Drop { after_bytes }) => {
                Some(*after_bytes)
            }
            _ => None,
        };
        let mut progressed = 0u64;
        if trigger == Some(0) || upstream.is_none() {
            yield ending(&fault).await;
            return;
        }
        let Some(model) = upstream else { return };
        let speed = fake.lock().pull_speed(&key);

        for layer in &model.layers {
            let line = format!("downloading {}", layer.digest);
            let (present, partial) = {
                let st = fake.lock();
                (
                    st.blobs.contains(&layer.digest),
                    st.partial.get(&layer.digest).copied().unwrap_or(0),
                )
            };
            if present {
                yield Event::Line(progress(&line, Some(&layer.digest), Some(layer.size), Some(layer.size)));
                continue;
            }
            // First line of a layer: no `completed` until bytes came,
            // except when resuming, which reports what is already here.
            let resumed = Some(partial).filter(|p| *p > 0);
            yield Event::Line(progress(&line, Some(&layer.digest), Some(layer.size), resumed));

            let step = speed.step(layer.size);
            loop {
                tokio::time::sleep(speed.tick()).await;
                let completed = {
                    let mut st = fake.lock();
                    let have = st.partial.get(&layer.digest).copied().unwrap_or(0);
                    // Another pull may have finished this layer meanwhile.
                    let have = if st.blobs.contains(&layer.digest) { layer.size } else { have };
                    let mut next = (have + step).min(layer.size);
                    if let Some(limit) = trigger {
                        // Stop exactly at the fault's byte count.
                        next = next.min(have + limit.saturating_sub(progressed));
                    }
                    progressed += next - have;
                    if next >= layer.size {
                        st.partial.remove(&layer.digest);
                        st.blobs.insert(layer.digest.clone());
                    } else {
                        st.partial.insert(layer.digest.clone(), next);
                    }
                    next
                };
                yield Event::Line(progress(&line, Some(&layer.digest), Some(layer.size), Some(completed)));
                if trigger.is_some_and(|limit| progressed >= limit) {
                    yield ending(&fault).await;
                    return;
                }
                if completed >= layer.size {
                    break;
                }
            }
        }
        // Fewer bytes to fetch than the fault waits for: fail at the end.
        if trigger.is_some() {
            yield ending(&fault).await;
            return;
        }

        yield Event::Line(status("verifying sha256 digest"));
        yield Event::Line(status("writing manifest"));
        fake.lock().install(model);
        yield Event::Line(status("removing any unused layers"));
        yield Event::Line(status("success"));
    }
}

/// How a faulted pull ends. Before a cut, what was sent gets time to
/// reach the client.
async fn ending(fault: &Option<PullFault>) -> Event {
    match fault {
        Some(PullFault::ErrorLine { message, .. }) => Event::Error(message.clone()),
        _ => {
            super::before_cut().await;
            Event::Drop
        }
    }
}
