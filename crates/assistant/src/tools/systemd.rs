//! `services` and `recent_failures`: systemd's own view of its units, read
//! over its D-Bus API (`org.freedesktop.systemd1`), never by running a
//! command. Only reading methods and properties are declared here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use serde_json::{json, Value};
use zbus::zvariant::OwnedObjectPath;

use super::ToolError;

/// `ListUnits`' row: name, description, load, active, sub, following,
/// path, job id, job type, job path.
type UnitRow = (
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

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
trait Manager {
    fn list_units(&self) -> zbus::Result<Vec<UnitRow>>;
}

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
trait Unit {
    #[zbus(property)]
    fn state_change_timestamp(&self) -> zbus::Result<u64>;
}

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
trait Service {
    #[zbus(property, name = "NRestarts")]
    fn n_restarts(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;
}

/// The most units one answer lists.
const MAX_UNITS: usize = 100;

/// Where systemd is: the system bus, or an address (tests, containers).
#[derive(Clone, Debug)]
pub struct Systemd {
    pub address: Option<String>,
}

struct Unit {
    name: String,
    description: String,
    load: String,
    active: String,
    sub: String,
    since: Option<SystemTime>,
    restarts: Option<u32>,
    result: Option<String>,
}

impl Unit {
    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "load": self.load,
            "active": self.active,
            "sub": self.sub,
            "since": self.since.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            "restarts": self.restarts,
            "result": self.result,
        })
    }
}

impl Systemd {
    async fn connect(&self) -> Result<zbus::Connection, ToolError> {
        let result = match &self.address {
            Some(address) => match zbus::connection::Builder::address(address.as_str()) {
                Ok(builder) => builder.build().await,
                Err(e) => Err(e),
            },
            None => zbus::Connection::system().await,
        };
        result.map_err(|e| ToolError::Unavailable(format!("cannot reach systemd over D-Bus: {e}")))
    }

    /// Every loaded unit with its state; timestamps and restart counts for
    /// the units in `detail` (a filter over the names).
    async fn units(&self, detail: impl Fn(&str, &str) -> bool) -> Result<Vec<Unit>, ToolError> {
        let conn = self.connect().await?;
        let manager = ManagerProxy::new(&conn).await.map_err(dbus)?;
        let rows = manager.list_units().await.map_err(dbus)?;
        let units = rows.into_iter().map(|row| {
            let conn = conn.clone();
            let wanted = detail(&row.0, &row.3);
            async move {
                let (name, description, load, active, sub, _, path, ..) = row;
                let mut unit = Unit {
                    name,
                    description,
                    load,
                    active,
                    sub,
                    since: None,
                    restarts: None,
                    result: None,
                };
                if wanted {
                    if let Ok(proxy) = UnitProxy::builder(&conn)
                        .path(path.clone())
                        .map(|b| b.cache_properties(zbus::proxy::CacheProperties::No))
                    {
                        if let Ok(proxy) = proxy.build().await {
                            unit.since = proxy.state_change_timestamp().await.ok().and_then(usec);
                        }
                    }
                    if unit.name.ends_with(".service") {
                        if let Ok(proxy) = ServiceProxy::builder(&conn)
                            .path(path)
                            .map(|b| b.cache_properties(zbus::proxy::CacheProperties::No))
                        {
                            if let Ok(proxy) = proxy.build().await {
                                unit.restarts = proxy.n_restarts().await.ok();
                                unit.result = proxy.result().await.ok();
                            }
                        }
                    }
                }
                unit
            }
        });
        let mut units = join_all(units).await;
        units.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(units)
    }

    /// `filter`: `failed`, `all` (the default), or the units named.
    pub async fn services(&self, filter: &str, names: &[String]) -> Result<Value, ToolError> {
        let wanted = |name: &str, active: &str| match filter {
            "failed" => active == "failed",
            "named" => names.iter().any(|n| matches(n, name)),
            _ => name.ends_with(".service") || active == "failed",
        };
        let units = self.units(wanted).await?;
        let failed = units.iter().filter(|u| u.active == "failed").count();
        let total = units.len();
        let mut chosen: Vec<&Unit> = units
            .iter()
            .filter(|u| match filter {
                "failed" => u.active == "failed",
                "named" => names.iter().any(|n| matches(n, &u.name)),
                _ => true,
            })
            .collect();
        if filter == "named" {
            let missing: Vec<&String> = names
                .iter()
                .filter(|n| !units.iter().any(|u| matches(n, &u.name)))
                .collect();
            if !missing.is_empty() && chosen.is_empty() {
                return Ok(json!({"units": [], "notLoaded": missing, "failedUnits": failed}));
            }
        }
        // Failed first, then not active, then the rest, within the bound.
        chosen.sort_by_key(|u| (u.active != "failed", u.active == "active", u.name.clone()));
        let more = chosen.len().saturating_sub(MAX_UNITS);
        chosen.truncate(MAX_UNITS);
        Ok(json!({
            "units": chosen.iter().map(|u| u.json()).collect::<Vec<_>>(),
            "loadedUnits": total,
            "failedUnits": failed,
            "notShown": more,
        }))
    }

    /// Units that failed, or services that restarted, within `window`.
    pub async fn recent_failures(&self, window: Duration) -> Result<Value, ToolError> {
        let units = self
            .units(|name, active| active == "failed" || name.ends_with(".service"))
            .await?;
        let cutoff = SystemTime::now() - window;
        let recent = |u: &&Unit| u.since.is_none_or(|t| t >= cutoff);
        let failed: Vec<Value> = units
            .iter()
            .filter(|u| u.active == "failed")
            .map(Unit::json)
            .collect();
        let restarted: Vec<Value> = units
            .iter()
            .filter(|u| u.restarts.unwrap_or(0) > 0 && u.active != "failed")
            .filter(recent)
            .map(Unit::json)
            .take(MAX_UNITS)
            .collect();
        // Their error-priority journal lines, read off the async runtime.
        let names: Vec<String> = failed
            .iter()
            .chain(&restarted)
            .filter_map(|u| u["name"].as_str().map(str::to_owned))
            .collect();
        let journal = tokio::task::spawn_blocking(move || super::journal::errors(&names, cutoff))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let (entries, journal_error) = match journal {
            Ok(entries) => (entries, None),
            Err(reason) => (Vec::new(), Some(reason)),
        };
        Ok(json!({
            "window": humantime::format_duration(window).to_string(),
            "failed": failed,
            "restarted": restarted,
            "journal": entries,
            "journalUnavailable": journal_error,
        }))
    }
}

/// `nginx` names `nginx.service`; a full unit name names itself.
fn matches(wanted: &str, unit: &str) -> bool {
    unit == wanted || (!wanted.contains('.') && unit == format!("{wanted}.service"))
}

/// systemd's microsecond timestamps; 0 means never.
fn usec(value: u64) -> Option<SystemTime> {
    (value > 0).then(|| UNIX_EPOCH + Duration::from_micros(value))
}

fn dbus(e: zbus::Error) -> ToolError {
    ToolError::Unavailable(format!("systemd over D-Bus: {e}"))
}
