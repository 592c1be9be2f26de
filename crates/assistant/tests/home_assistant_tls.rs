//! Home Assistant behind TLS that requires a client certificate, with a
//! private CA and a certificate for a name that is not the URL's host.

use std::sync::Arc;

use axum::Json;
use hwc_ai_test_support::Embedded;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

struct Pki {
    ca_pem: String,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client_pem: String,
    client_key_pem: String,
    ca_der: CertificateDer<'static>,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["ha.internal".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["hwc-ai-assistant".to_owned()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server: (
            server_cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        ),
        client_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// Service calls Home Assistant received: (`domain.service`, body).
type Calls = Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// An HTTPS Home Assistant that admits only clients with a certificate
/// from the CA: its states and its light services.
async fn start_tls_ha(pki: &Pki) -> (u16, Calls) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server.0.clone()], pki.server.1.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let calls = Calls::default();
    let app = axum::Router::new()
        .route(
            "/api/states",
            axum::routing::get(|| async {
                Json(json!([
                    {"entity_id": "light.hall", "state": "on", "attributes": {"friendly_name": "Hall", "supported_color_modes": ["brightness"]}},
                    {"entity_id": "light.hall_lamp", "state": "off", "attributes": {"friendly_name": "Hall lamp", "supported_color_modes": ["onoff"]}}
                ]))
            }),
        )
        .route(
            "/api/services/{domain}/{service}",
            axum::routing::post(
                |axum::extract::State(calls): axum::extract::State<Calls>,
                 axum::extract::Path((domain, service)): axum::extract::Path<(String, String)>,
                 Json(body): Json<Value>| async move {
                    calls.lock().unwrap().push((format!("{domain}.{service}"), body));
                    Json(json!([]))
                },
            ),
        )
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let kept = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                // A client without a certificate fails the handshake here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, kept)
}

async fn entities(pki: &Pki, port: u16, with_client_cert: bool) -> (u16, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t").unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("client.pem"), &pki.client_pem).unwrap();
    std::fs::write(dir.path().join("client.key"), &pki.client_key_pem).unwrap();
    let mut tls = json!({"ca": dir.path().join("ca.pem"), "serverName": "ha.internal"});
    if with_client_cert {
        tls["clientCertificate"] = json!(dir.path().join("client.pem"));
        tls["clientKey"] = json!({"file": dir.path().join("client.key")});
    }
    let doc = json!({
        "stateDirectory": dir.path().join("state"),
        "tools": ["ha_entities"],
        "homeAssistant": {"url": format!("https://127.0.0.1:{port}"), "token": {"file": dir.path().join("token")}, "tls": tls}
    });
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
    let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let url = format!("{}/tools/ha_entities", daemon.url);
    let shutdown = daemon.shutdown.clone();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let result = (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    );
    shutdown.trigger();
    result
}

#[tokio::test]
async fn mutual_tls_with_a_private_ca_and_a_server_name() {
    let pki = pki();
    let (port, _) = start_tls_ha(&pki).await;
    let (status, body) = entities(&pki, port, true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"][0]["entity"], "light.hall");
    // Without the client certificate the server refuses the handshake.
    let (status, body) = entities(&pki, port, false).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach Home Assistant"),
        "{body}"
    );
}

/// A chat bot's intent over mutual TLS: the friendly name resolved from
/// the states Home Assistant serves, the service called with the
/// brightness, and a name that fits two lights asked back.
#[tokio::test]
async fn intents_over_mutual_tls() {
    let pki = pki();
    let (port, calls) = start_tls_ha(&pki).await;
    let replies = Arc::new(std::sync::Mutex::new(vec![
        json!({"intent": "turn_on", "target": "the hall light", "brightness_pct": 30}),
        json!({"intent": "turn_off", "target": "the lamp"}),
    ]));
    let model = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let replies = replies.clone();
            async move {
                let text = replies.lock().unwrap().remove(0).to_string();
                Json(json!({"choices": [{"message": {"role": "assistant", "content": text}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let model_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, model).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t").unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("client.pem"), &pki.client_pem).unwrap();
    std::fs::write(dir.path().join("client.key"), &pki.client_key_pem).unwrap();
    let doc = json!({
        "stateDirectory": dir.path().join("state"),
        "router": {"url": model_url},
        "homeAssistant": {
            "url": format!("https://127.0.0.1:{port}"),
            "token": {"file": dir.path().join("token")},
            "tls": {"caFile": dir.path().join("ca.pem"), "serverName": "ha.internal",
                    "clientCertificate": dir.path().join("client.pem"),
                    "clientKey": {"file": dir.path().join("client.key")}},
            "actions": {"enable": true, "entities": ["light.hall", "light.hall_lamp"]}
        }
    });
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
    let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let query = |text: &'static str| {
        let url = format!("{}/v1/query", daemon.url);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&json!({"text": text}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        query("turn on the hall light at 30%").await,
        json!({"reply": "Turned on light.hall at 30% brightness.", "intent": "light_on", "action_taken": true})
    );
    let asked = query("turn off the lamp").await;
    assert_eq!(asked["intent"], "clarify", "{asked}");
    assert_eq!(
        asked["reply"],
        "Which one do you mean: Hall (light.hall) or Hall lamp (light.hall_lamp)?"
    );
    assert_eq!(
        *calls.lock().unwrap(),
        vec![(
            "light.turn_on".to_owned(),
            json!({"entity_id": "light.hall", "brightness_pct": 30})
        )]
    );
    daemon.shutdown.trigger();
}
