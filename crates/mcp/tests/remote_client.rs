//! A remote server is reached with the client policy every daemon follows:
//! the User-Agent names the gateway, and proxy variables in the
//! environment are ignored (every upstream is declared).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-mcp");

#[test]
fn a_remote_server_is_asked_directly_by_hwc_ai_mcp() {
    // The remote server: records the head of the first request it gets.
    let remote = TcpListener::bind("127.0.0.1:0").unwrap();
    let remote_port = remote.local_addr().unwrap().port();
    let (heads, head) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = remote.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let _ = heads.send(String::from_utf8_lossy(&got).to_lowercase());
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.json");
    let port = hwc_ai_test_support::free_port();
    std::fs::write(
        &config,
        format!(
            r#"{{"listen": "127.0.0.1:{port}",
                 "servers": [{{"name": "far", "url": "http://127.0.0.1:{remote_port}/mcp"}}]}}"#
        ),
    )
    .unwrap();
    // A proxy that is not there: a client that used it would never reach
    // the remote server.
    let dead = "http://127.0.0.1:9";
    let mut gateway = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("HTTP_PROXY", dead)
        .env("http_proxy", dead)
        .env("ALL_PROXY", dead)
        .env("all_proxy", dead)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let head = head.recv_timeout(Duration::from_secs(15));
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    let head = head.expect("the remote server was asked directly, not through the proxy");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        head.contains(&format!("\r\nuser-agent: hwc-ai-mcp/{version}\r\n")),
        "{head}"
    );
}
