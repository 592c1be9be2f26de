//! The gRPC side: `ai.v1.AIService/Query` (proto/ai/v1/ai.proto, the
//! ai-gateway plan's service) for chat bots, with the standard health
//! service (`grpc.health.v1`) and server reflection. Same client keys,
//! rate limits, answers and audit trail as `POST /v1/query`.

use std::sync::Arc;
use std::time::Duration;

use hwc_ai_runtime::auth::Verdict;
use hwc_ai_runtime::Shutdown;
use tonic::{Request, Response, Status};

use crate::api::Shared;
use crate::query::{self, Transport};

/// The code generated from proto/ai/v1/ai.proto (see build.rs).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    tonic::include_proto!("ai.v1");

    /// The .proto's descriptors, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/ai_v1_descriptor.bin"));
}

use proto::ai_service_server::{AiService, AiServiceServer};
use proto::{QueryRequest, QueryResponse};

/// The service's full name, as health checks ask for it.
pub const SERVICE: &str = "ai.v1.AIService";

struct Service {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl AiService for Service {
    async fn query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<QueryResponse>, Status> {
        let client = self.admit(&request)?;
        let deadline = deadline(request.metadata());
        let id = query::request_id(
            request
                .metadata()
                .get(query::REQUEST_ID)
                .map(|v| v.as_bytes()),
        );
        let traceparent = request
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let QueryRequest { text, source } = request.into_inner();
        let answer = query::answer(
            &self.shared,
            Transport::Grpc,
            &id,
            traceparent.as_deref(),
            &client,
            Some(&source),
            &text,
        );
        // At the caller's deadline the query is dropped, model call and
        // all, and the caller told so (it may have stopped waiting).
        let result = match deadline {
            Some(deadline) => tokio::time::timeout(deadline, answer)
                .await
                .map_err(|_| Status::deadline_exceeded("the deadline passed before an answer"))?,
            None => answer.await,
        };
        // The request id goes back as response metadata (on errors too).
        let id = tonic::metadata::MetadataValue::try_from(id.as_str()).ok();
        match result {
            Ok(answer) => {
                let mut response = Response::new(QueryResponse {
                    reply: answer.reply,
                    intent: answer.intent,
                    action_taken: answer.action_taken,
                });
                if let Some(id) = id {
                    response.metadata_mut().insert(query::REQUEST_ID, id);
                }
                Ok(response)
            }
            Err(err) => {
                let mut status = Status::new(err.grpc(), err.to_string());
                if let Some(id) = id {
                    status.metadata_mut().insert(query::REQUEST_ID, id);
                }
                Err(status)
            }
        }
    }
}

impl Service {
    /// The client key (`authorization: Bearer <key>` metadata), then the
    /// client's rate limit, as over HTTP.
    fn admit<T>(&self, request: &Request<T>) -> Result<String, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        // The HTTP server's connection info (tonic's own server is not
        // used, so `remote_addr()` is empty); no address, no loopback trust.
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip());
        let name = match self.shared.clients.verdict(authorization, peer) {
            Verdict::Client(name) => name.to_owned(),
            Verdict::Missing => {
                return Err(Status::unauthenticated(
                    "send a client key: metadata `authorization: Bearer <key>`",
                ))
            }
            Verdict::Wrong => {
                return Err(Status::permission_denied("the client key is not accepted"))
            }
        };
        if let Err(wait) = self.shared.limiter.take(&name) {
            self.shared.engine.metrics.rate_limited(&name);
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::warn!(client = %name, transport = "grpc", retry_after = secs,
                "rate limited: answered RESOURCE_EXHAUSTED (raise rateLimit if this client needs more)");
            return Err(Status::resource_exhausted(format!(
                "too many requests from `{name}`; try again in {secs}s"
            )));
        }
        Ok(name)
    }
}

/// Serves gRPC on `listener` until `shutdown`, then lets in-flight calls
/// finish for at most `drain`. Health says SERVING until shutdown begins,
/// NOT_SERVING from then on.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: Shutdown,
    drain: Duration,
) -> anyhow::Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<AiServiceServer<Service>>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // v1 for current tools (grpcurl, Postman), v1alpha for the clients
    // that still ask only that (grpcio's reflection helpers, older grpcurl).
    let routes = tonic::service::Routes::new(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(AiServiceServer::new(Service { shared }))
        .prepare()
        .into_axum_router();
    let watch = shutdown.clone();
    tokio::spawn(async move {
        watch.wait().await;
        health.set_not_serving::<AiServiceServer<Service>>().await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    });
    // HTTP/2 only (gRPC), served here rather than by tonic's server: its
    // deadline layer answers CANCELLED where gRPC says DEADLINE_EXCEEDED
    // (`Service::query` keeps the deadline itself).
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!("gRPC accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(
            routes
                .clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let connection =
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.wait() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("gRPC calls still running after {drain:?}; closing them");
    }
    Ok(())
}

/// The caller's deadline, from `grpc-timeout` (an integer of at most 8
/// digits and a unit: `H`ours, `M`inutes, `S`econds, `m`illi-, `u`micro-,
/// `n`anoseconds). `None` when absent or malformed: no deadline.
pub fn deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_is_read_as_the_spec_writes_it() {
        let at = |v: &str| {
            let mut m = tonic::metadata::MetadataMap::new();
            m.insert("grpc-timeout", v.parse().unwrap());
            deadline(&m)
        };
        assert_eq!(at("5S"), Some(Duration::from_secs(5)));
        assert_eq!(at("250m"), Some(Duration::from_millis(250)));
        assert_eq!(at("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(at("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(at("123456789S"), None, "at most 8 digits");
        assert_eq!(at("5s"), None);
        assert_eq!(at("S"), None);
        assert_eq!(deadline(&tonic::metadata::MetadataMap::new()), None);
    }
}
