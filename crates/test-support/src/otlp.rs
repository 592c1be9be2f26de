//! An OpenTelemetry receiver on loopback: `POST /v1/traces` as OTLP/HTTP
//! sends it (protobuf), decoded with the protocol's own message types, so
//! a test sees the spans a daemon exported as a collector would.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::AnyValue as Any;
use prost::Message;

/// One received span, ids in hex as `traceparent` writes them.
#[derive(Debug, Clone)]
pub struct Span {
    /// The `service.name` of the resource that sent it.
    pub service: String,
    pub name: String,
    pub trace: String,
    pub id: String,
    /// Empty for a root span.
    pub parent: String,
    /// Attributes, values as text (strings as they are, numbers written).
    pub attributes: Vec<(String, String)>,
}

impl Span {
    /// The value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The receiver: what it got so far, and where it listens.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT`, the `otlpEndpoint` to configure.
    pub url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let raw: Arc<Mutex<Vec<u8>>> = Arc::default();
        let (kept, kept_raw) = (spans.clone(), raw.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (spans, raw) = (kept.clone(), kept_raw.clone());
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    raw.lock().unwrap().extend_from_slice(&body);
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    for resource in request.resource_spans {
                        let service = resource
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|a| a.key == "service.name")
                            .map(|a| text(a.value.as_ref()))
                            .unwrap_or_default();
                        for scope in resource.scope_spans {
                            for s in scope.spans {
                                spans.lock().unwrap().push(Span {
                                    service: service.clone(),
                                    name: s.name,
                                    trace: hex(&s.trace_id),
                                    id: hex(&s.span_id),
                                    parent: hex(&s.parent_span_id),
                                    attributes: s
                                        .attributes
                                        .iter()
                                        .map(|a| (a.key.clone(), text(a.value.as_ref())))
                                        .collect(),
                                });
                            }
                        }
                    }
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, spans, raw }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// The request bodies as they came, for a test that some text is in
    /// no span.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&Any>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(n)) => n.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(f)) => f.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}
