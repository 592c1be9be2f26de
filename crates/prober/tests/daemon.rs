//! The real `hwc-ai-prober` binary as systemd runs it: config checks,
//! sd-notify over a real datagram socket, the watchdog, SIGTERM, socket
//! activation and credentials.

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hwc_ai_test_support::free_port;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai-prober");

fn write_config(dir: &Path, json: &str) -> std::path::PathBuf {
    let path = dir.join("prober.json");
    std::fs::write(&path, json).unwrap();
    path
}

#[test]
fn check_config_accepts_valid_and_names_the_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(
        dir.path(),
        r#"{"targets":[{"name":"ollama","kind":"ollama","url":"http://127.0.0.1:11434"},
             {"name":"t","kind":"http","url":"http://x","bearerToken":{"credential":"not-there-at-build-time"}}]}"#,
    );
    let out = Command::new(BIN)
        .args(["--check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid hwc-ai-prober config"));

    for (json, expected) in [
        (
            r#"{"targets":[{"name":"a","kind":"tcp","address":"h:1"},{"name":"b","kind":"tcp","address":"h:2"},
                {"name":"c","kind":"http","url":"/api/health"}]}"#,
            "targets[2].url: relative URL without a base",
        ),
        (
            r#"{"targets":[],"intreval":"5s"}"#,
            "intreval: unknown field `intreval`",
        ),
        (r#"{"defaults":{"interval":"soon"}}"#, "defaults.interval: "),
        (
            r#"{"targets":[{"name":"a","kind":"http","url":"http://x","headers":{"Authorization":"Bearer x"}}]}"#,
            "targets[0].headers.Authorization: credentials do not belong in the config",
        ),
    ] {
        let bad = write_config(dir.path(), json);
        let out = Command::new(BIN)
            .args(["--check-config", "--config"])
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr:?}"
        );
    }
}

#[test]
fn a_broken_config_at_start_exits_78_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_config(
        dir.path(),
        r#"{"targets":[{"name":"a","kind":"tcp","address":"nope"}]}"#,
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("targets[0].address: `nope` is not host:port"));
}

/// Reads notify datagrams until `want` arrives, returning everything seen.
fn wait_for(socket: &UnixDatagram, want: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(deadline - Instant::now()))
            .unwrap();
        match socket.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = msg.lines().any(|l| l == want);
                seen.push(msg);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no {want} within {within:?}; saw {seen:?}");
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn speaks_sd_notify_pings_the_watchdog_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{"listen":"127.0.0.1:{port}","defaults":{{"interval":"1s"}},
                "targets":[{{"name":"self","kind":"hwc-ai","url":"http://127.0.0.1:{port}"}}]}}"#
        ),
    );
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "300000")
        .env_remove("WATCHDOG_PID")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);

    let seen = wait_for(&socket, "READY=1", Duration::from_secs(5));
    let ready = seen.last().unwrap();
    assert!(ready.contains("STATUS=probing 1 targets"), "{ready}");
    // READY means the listener is bound: /health answers at once.
    let health = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(health.is_ok(), "READY=1 before the listener was bound");

    // Half of WATCHDOG_USEC: two pings within ~400 ms.
    let start = Instant::now();
    wait_for(&socket, "WATCHDOG=1", Duration::from_secs(2));
    wait_for(&socket, "WATCHDOG=1", Duration::from_secs(2));
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );

    kill(Pid::from_raw(daemon.0.id() as i32), Signal::SIGTERM).unwrap();
    wait_for(&socket, "STOPPING=1", Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = daemon.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 5 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    daemon
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("SIGTERM received: draining and stopping"),
        "{stderr}"
    );
}

#[test]
fn under_journald_lines_carry_priorities_and_no_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let closed = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{"listen":"127.0.0.1:{port}","defaults":{{"interval":"50ms","timeout":"40ms","failureThreshold":1}},
                "targets":[{{"name":"gone","kind":"tcp","address":"127.0.0.1:{closed}"}}]}}"#
        ),
    );
    let mut daemon = Daemon(
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .env("JOURNAL_STREAM", "8:1234")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(600));
    kill(Pid::from_raw(daemon.0.id() as i32), Signal::SIGTERM).unwrap();
    daemon.0.wait().unwrap();
    let mut stderr = String::new();
    daemon
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let down = stderr
        .lines()
        .find(|l| l.contains("gone (tcp) is DOWN"))
        .unwrap_or_else(|| panic!("no DOWN line in {stderr}"));
    assert!(
        down.starts_with("<3>"),
        "error priority prefix missing: {down}"
    );
    assert!(
        !down.contains("20"),
        "journald adds its own timestamps: {down}"
    );
    assert!(stderr.lines().all(|l| l.starts_with('<')), "{stderr}");
}

#[test]
fn uses_the_socket_systemd_passes() {
    if Command::new("systemd-socket-activate")
        .arg("--help")
        .output()
        .is_err()
    {
        panic!("systemd-socket-activate is required (Debian package systemd)");
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // `listen` names a port the daemon must not use: the socket wins.
    let config = write_config(dir.path(), r#"{"listen":"127.0.0.1:1","targets":[]}"#);
    let _daemon = Daemon(
        Command::new("systemd-socket-activate")
            .args(["-l", &format!("127.0.0.1:{port}"), BIN, "--config"])
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            use std::io::Write;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        });
        match reply {
            Ok(text) if text.contains("hwc-ai-prober") => break,
            _ if Instant::now() > deadline => {
                panic!("no /health on the activated socket: {reply:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn credentials_are_read_but_never_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("ops-token"), "canary-c0ffee\n").unwrap();
    let port = free_port();
    let closed = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{"listen":"127.0.0.1:{port}","log":{{"level":"debug"}},
                "defaults":{{"interval":"50ms","timeout":"40ms","failureThreshold":1}},
                "targets":[{{"name":"api","kind":"http","url":"http://127.0.0.1:{closed}/","bearerToken":{{"credential":"ops-token"}}}}]}}"#
        ),
    );
    let mut daemon = Daemon(
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .env("CREDENTIALS_DIRECTORY", &creds)
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let pid = daemon.0.id();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let scrape = |path: &str| {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let (health, metrics) = (scrape("/health"), scrape("/metrics"));
    assert!(health.contains(r#""state":"down""#), "{health}");
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
    daemon.0.wait().unwrap();
    let mut stderr = String::new();
    daemon
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    for (place, text) in [
        ("cmdline", String::from_utf8_lossy(&cmdline).into_owned()),
        ("environ", String::from_utf8_lossy(&environ).into_owned()),
        ("/health", health),
        ("/metrics", metrics),
        ("debug log", stderr),
    ] {
        assert!(
            !text.contains("canary"),
            "the credential leaked into {place}: {text}"
        );
    }
}

#[test]
fn a_missing_credential_fails_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"{"listen":"127.0.0.1:0","targets":[{"name":"api","kind":"http","url":"http://x","bearerToken":{"credential":"absent"}}]}"#,
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("CREDENTIALS_DIRECTORY", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("targets[0].bearerToken: cannot read secret"),
        "{stderr}"
    );
}
