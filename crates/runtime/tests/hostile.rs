//! Hostile clients against the server every daemon runs (`http::serve`),
//! on loopback: a client sending its headers a byte at a time is cut off,
//! oversized headers get 431, and a server shutting down still drains.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use hwc_ai_runtime::http::{self, HEADER_READ_TIMEOUT};
use hwc_ai_runtime::Shutdown;

async fn start() -> (
    SocketAddr,
    Shutdown,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let app = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(http::serve(
        listener,
        app,
        shutdown.clone(),
        Duration::from_secs(2),
    ));
    (address, shutdown, server)
}

/// The whole answer to `request`, read until the server closes.
fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_sends_headers_a_byte_at_a_time_is_cut_off() {
    let (address, _shutdown, _server) = start().await;
    let slow = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let started = Instant::now();
        let request = b"GET /peer HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for byte in request.iter().cycle() {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            if started.elapsed() > HEADER_READ_TIMEOUT * 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        started.elapsed()
    });
    let held = slow.await.unwrap();
    assert!(
        held < HEADER_READ_TIMEOUT + Duration::from_secs(5),
        "the slow client held its connection for {held:?}"
    );
    // Meanwhile and after, others are served.
    let answer = exchange(
        address,
        b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with("127.0.0.1"),
        "the peer address reaches handlers: {answer}"
    );
}

#[tokio::test]
async fn oversized_headers_are_431_not_buffered() {
    let (address, _shutdown, _server) = start().await;
    let big = "a".repeat(1024 * 1024);
    let request = format!("GET /peer HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let answer = tokio::task::spawn_blocking(move || exchange(address, request.as_bytes()))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = format!("GET /peer HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let answer = tokio::task::spawn_blocking(move || exchange(address, request.as_bytes()))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_ends_the_server() {
    let (address, shutdown, server) = start().await;
    // An idle keep-alive connection must not hold the shutdown.
    let idle = TcpStream::connect(address).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server ends")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
    assert!(TcpStream::connect(address).is_err(), "still listening");
}
