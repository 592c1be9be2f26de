//! `services` and `recent_failures` against a D-Bus service that speaks
//! the part of systemd's interface they read, on a private bus started
//! with dbus-daemon.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hwc_ai_assistant::tools::systemd::Systemd;
use zbus::zvariant::OwnedObjectPath;

struct Bus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn private_bus() -> Bus {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("bus").display());
    let daemon = Command::new("dbus-daemon")
        .args([
            "--session",
            "--nofork",
            "--nopidfile",
            "--address",
            &address,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon (package dbus) is needed for this test");
    for _ in 0..100 {
        if dir.path().join("bus").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Bus {
        daemon,
        address,
        _dir: dir,
    }
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

struct Manager {
    units: Vec<(&'static str, &'static str, &'static str)>,
}

fn path_of(name: &str) -> OwnedObjectPath {
    let escaped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("_{:02x}", c as u32)
            }
        })
        .collect();
    OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/unit/{escaped}")).unwrap()
}

#[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    fn list_units(&self) -> Vec<Row> {
        self.units
            .iter()
            .map(|(name, active, sub)| {
                (
                    name.to_string(),
                    format!("The {name} unit"),
                    "loaded".into(),
                    active.to_string(),
                    sub.to_string(),
                    String::new(),
                    path_of(name),
                    0,
                    String::new(),
                    OwnedObjectPath::try_from("/").unwrap(),
                )
            })
            .collect()
    }

    /// Present on the real interface; the tools must never call it.
    fn restart_unit(&self, _name: &str, _mode: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        panic!("a read-only tool called RestartUnit");
    }
}

struct Unit {
    changed: u64,
}

#[zbus::interface(name = "org.freedesktop.systemd1.Unit")]
impl Unit {
    #[zbus(property)]
    fn state_change_timestamp(&self) -> u64 {
        self.changed
    }
}

struct Service {
    restarts: u32,
    result: &'static str,
}

#[zbus::interface(name = "org.freedesktop.systemd1.Service")]
impl Service {
    #[zbus(property, name = "NRestarts")]
    fn n_restarts(&self) -> u32 {
        self.restarts
    }
    #[zbus(property)]
    fn result(&self) -> String {
        self.result.into()
    }
}

fn usec_ago(minutes: u64) -> u64 {
    (SystemTime::now() - Duration::from_secs(minutes * 60))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A fake systemd with: nginx failed, ollama active but restarted 3 times
/// 10 minutes ago, sshd active, an old restart of cron two days ago.
async fn fake_systemd(address: &str) -> zbus::Connection {
    let units = vec![
        ("nginx.service", "failed", "failed"),
        ("ollama.service", "active", "running"),
        ("sshd.service", "active", "running"),
        ("cron.service", "active", "running"),
        ("tmp.mount", "active", "mounted"),
    ];
    let mut builder = zbus::connection::Builder::address(address)
        .unwrap()
        .name("org.freedesktop.systemd1")
        .unwrap()
        .serve_at(
            "/org/freedesktop/systemd1",
            Manager {
                units: units.clone(),
            },
        )
        .unwrap();
    let details = [
        ("nginx.service", usec_ago(5), 0, "exit-code"),
        ("ollama.service", usec_ago(10), 3, "success"),
        ("sshd.service", usec_ago(600), 0, "success"),
        ("cron.service", usec_ago(2 * 24 * 60), 1, "success"),
        ("tmp.mount", usec_ago(900), 0, "success"),
    ];
    for (name, changed, restarts, result) in details {
        builder = builder.serve_at(path_of(name), Unit { changed }).unwrap();
        if name.ends_with(".service") {
            builder = builder
                .serve_at(path_of(name), Service { restarts, result })
                .unwrap();
        }
    }
    builder.build().await.unwrap()
}

#[tokio::test]
async fn services_and_recent_failures_read_systemd_over_dbus() {
    let bus = private_bus();
    let _systemd = fake_systemd(&bus.address).await;
    let tool = Systemd {
        address: Some(bus.address.clone()),
    };

    let failed = tool.services("failed", &[]).await.unwrap();
    assert_eq!(failed["failedUnits"], 1);
    assert_eq!(failed["units"].as_array().unwrap().len(), 1);
    assert_eq!(failed["units"][0]["name"], "nginx.service");
    assert_eq!(failed["units"][0]["result"], "exit-code");
    assert!(failed["units"][0]["since"].as_str().unwrap().ends_with('Z'));

    let all = tool.services("all", &[]).await.unwrap();
    assert_eq!(all["loadedUnits"], 5);
    // Failed first.
    assert_eq!(all["units"][0]["name"], "nginx.service");

    let named = tool.services("named", &["ollama".into()]).await.unwrap();
    assert_eq!(named["units"][0]["name"], "ollama.service");
    assert_eq!(named["units"][0]["restarts"], 3);
    assert_eq!(named["units"][0]["sub"], "running");

    let recent = tool
        .recent_failures(Duration::from_secs(3600))
        .await
        .unwrap();
    let names = |key: &str| -> Vec<String> {
        recent[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("failed"), ["nginx.service"]);
    // cron's restart was two days ago: outside the hour.
    assert_eq!(names("restarted"), ["ollama.service"]);
}

#[tokio::test]
async fn no_systemd_on_the_bus_is_a_clear_error() {
    let bus = private_bus();
    let tool = Systemd {
        address: Some(bus.address.clone()),
    };
    let err = tool.services("all", &[]).await.unwrap_err().to_string();
    assert!(err.contains("systemd over D-Bus"), "{err}");
}
