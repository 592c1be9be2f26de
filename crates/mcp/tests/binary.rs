//! The `hwc-ai-mcp` process: config checks, exit codes, SIGTERM with a
//! stdio server running as its child.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-mcp");

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_config_names_the_field_and_bad_configs_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        &dir,
        "good.json",
        r#"{"servers": [{"name": "time", "command": "mcp-server-time"}]}"#,
    );
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&good)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bad = write(
        &dir,
        "bad.json",
        r#"{"servers": [{"name": "time", "command": "x", "url": "http://h/mcp"}]}"#,
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&bad)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("servers[0]: set exactly one of command"),
        "{stderr}"
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let wrap = write(
        &dir,
        "wrap.json",
        r#"{"name": "time", "socket": "relative.sock", "command": "x"}"#,
    );
    let out = Command::new(BIN)
        .args(["wrap", "--config"])
        .arg(&wrap)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("socket"),
        "{out:?}"
    );
}

/// Waits for `child` to exit after SIGTERM, failing after `limit`.
fn exited(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < limit, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == pid {
            found.push(child);
        }
    }
    found
}

#[test]
fn sigterm_stops_the_gateway_and_its_stdio_servers() {
    let dir = tempfile::tempdir().unwrap();
    let port = hwc_ai_test_support::free_port();
    let config = write(
        &dir,
        "gw.json",
        &format!(
            r#"{{"listen": "127.0.0.1:{port}", "checkTimeout": "60s",
                      "servers": [{{"name": "mute", "command": "sleep", "args": ["600"]}}]}}"#
        ),
    );
    let mut gateway = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let child = loop {
        if let Some(&child) = children(gateway.id()).first() {
            break child;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server was never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    kill(Pid::from_raw(gateway.id() as i32), Signal::SIGTERM).unwrap();
    let status = exited(&mut gateway, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        !std::path::Path::new(&format!("/proc/{child}")).exists()
            || std::fs::read_to_string(format!("/proc/{child}/stat"))
                .map_or(true, |s| s.contains(") Z ")),
        "the stdio server {child} outlived the gateway"
    );
}

/// `GET path` over a unix socket, the body as JSON.
fn get_unix(socket: &std::path::Path, path: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let body = response.split("\r\n\r\n").nth(1)?;
    serde_json::from_str(body).ok()
}

#[test]
fn the_wrapper_restarts_a_dead_server_and_reports_it_on_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("dying.sock");
    let config = write(
        &dir,
        "wrap.json",
        &format!(
            r#"{{"name": "dying", "socket": "{}", "initializeTimeout": "2s",
                 "command": "sh", "args": ["-c", "echo 'no token' >&2; exit 4"]}}"#,
            socket.display()
        ),
    );
    let mut wrapper = Command::new(BIN)
        .args(["wrap", "--config"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = get_unix(&socket, "/status") {
            if status["restarts"].as_u64() >= Some(1) {
                break status;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no restart reported"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["name"], "dying");
    assert_ne!(status["state"], "up");
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(
        error.contains("exited with status 4") && error.contains("no token"),
        "{status}"
    );
    let metrics = {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    assert!(metrics.contains("hwc_ai_mcp_wrap_server_up 0"), "{metrics}");
    kill(Pid::from_raw(wrapper.id() as i32), Signal::SIGTERM).unwrap();
    let status = exited(&mut wrapper, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

/// A small stdio MCP server (python3): answers initialize, lists `echo`.
const ECHO_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../checks/debian-vm/guest/mcp-echo-server.py"
);

#[test]
fn the_wrapper_stops_at_once_on_sigterm_with_its_server_running() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("echo.sock");
    let config = write(
        &dir,
        "wrap.json",
        &format!(
            r#"{{"name": "echo", "socket": "{}", "command": "python3", "args": ["{ECHO_SERVER}"]}}"#,
            socket.display()
        ),
    );
    let mut wrapper = Command::new(BIN)
        .args(["wrap", "--config"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let pid = loop {
        if let Some(status) = get_unix(&socket, "/status") {
            if status["state"] == "up" {
                break status["pid"].as_u64().expect("a running server has a pid") as i32;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the server never came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    kill(Pid::from_raw(wrapper.id() as i32), Signal::SIGTERM).unwrap();
    let stopping = Instant::now();
    let status = exited(&mut wrapper, Duration::from_secs(8));
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "took {:?}",
        stopping.elapsed()
    );
    assert!(
        kill(Pid::from_raw(pid), None).is_err(),
        "the server {pid} outlived its wrapper"
    );
}
