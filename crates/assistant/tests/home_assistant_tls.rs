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

/// An HTTPS Home Assistant that admits only clients with a certificate
/// from the CA.
async fn start_tls_ha(pki: &Pki) -> u16 {
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
    let app = axum::Router::new().route(
        "/api/states",
        axum::routing::get(|| async {
            Json(json!([{"entity_id": "light.hall", "state": "on", "attributes": {"friendly_name": "Hall"}}]))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
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
    port
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
    let port = start_tls_ha(&pki).await;
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
