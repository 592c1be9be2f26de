//! `system_overview` and `disk_usage`, from procfs and statvfs.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use super::ToolError;

/// Percent used at which a filesystem is flagged.
pub const DISK_WARN_PERCENT: f64 = 80.0;

/// CPU usage over a short sample, load, memory and swap, uptime.
pub async fn overview() -> Result<Value, ToolError> {
    let first = cpu_times()?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = cpu_times()?;
    let busy = second.0.saturating_sub(first.0) as f64;
    let total = second.1.saturating_sub(first.1) as f64;
    let cpu_percent = if total > 0.0 {
        busy / total * 100.0
    } else {
        0.0
    };
    let load = read("/proc/loadavg")?;
    let load: Vec<f64> = load
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect();
    let mem = meminfo()?;
    let kib = |key: &str| mem.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v) * 1024;
    let (total_mem, available) = (kib("MemTotal"), kib("MemAvailable"));
    let (swap_total, swap_free) = (kib("SwapTotal"), kib("SwapFree"));
    let uptime: f64 = read("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(json!({
        "cpu": {
            "usagePercent": round1(cpu_percent),
            "cores": cores,
            "load": {"1m": load.first(), "5m": load.get(1), "15m": load.get(2)},
        },
        "memory": {
            "totalBytes": total_mem,
            "availableBytes": available,
            "usedBytes": total_mem.saturating_sub(available),
            "usedPercent": percent(total_mem.saturating_sub(available), total_mem),
        },
        "swap": {
            "totalBytes": swap_total,
            "usedBytes": swap_total.saturating_sub(swap_free),
            "usedPercent": percent(swap_total.saturating_sub(swap_free), swap_total),
        },
        "uptimeSeconds": uptime.round(),
        "uptime": humantime::format_duration(Duration::from_secs(uptime as u64)).to_string(),
    }))
}

/// (busy, total) jiffies over all CPUs.
fn cpu_times() -> Result<(u64, u64), ToolError> {
    let stat = read("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| ToolError::Failed("/proc/stat has no cpu line".into()))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Ok((total.saturating_sub(idle), total))
}

fn meminfo() -> Result<Vec<(String, u64)>, ToolError> {
    Ok(read("/proc/meminfo")?
        .lines()
        .filter_map(|l| {
            let (key, rest) = l.split_once(':')?;
            let value = rest.split_whitespace().next()?.parse().ok()?;
            Some((key.to_owned(), value))
        })
        .collect())
}

/// Filesystem types that hold no operator data.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "ramfs",
    "devtmpfs",
    "tmpfs",
    "efivarfs",
    "rpc_pipefs",
    "overlay",
    "squashfs",
    "fuse.lxcfs",
    "fuse.portal",
    "nfsd",
];

/// Every mounted filesystem that holds data: size, used, free, percent,
/// flagged at 80 %. `mount` narrows to one mount point.
pub fn disks(mount: Option<&str>) -> Result<Value, ToolError> {
    let mountinfo = read("/proc/self/mountinfo")?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options ... - fstype source superopts
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(device), Some(point), Some(fstype), Some(source)) = (
            fields.get(2),
            fields.get(4),
            fields.get(dash + 1),
            fields.get(dash + 2),
        ) else {
            continue;
        };
        let point = unescape(point);
        if PSEUDO.contains(fstype) || mount.is_some_and(|m| m != point) {
            continue;
        }
        // A device mounted twice (bind mounts) is shown once.
        if !seen.insert(device.to_string()) {
            continue;
        }
        let Ok(stat) = nix::sys::statvfs::statvfs(point.as_str()) else {
            continue;
        };
        let (size, used, free) = sizes(&stat);
        if size == 0 {
            continue;
        }
        // As df computes it: used of what an unprivileged user could fill.
        let used_percent = percent(used, used + free);
        out.push(json!({
            "mount": point,
            "device": unescape(source),
            "fstype": fstype,
            "sizeBytes": size,
            "usedBytes": used,
            "freeBytes": free,
            "usedPercent": used_percent,
            "warning": used_percent >= DISK_WARN_PERCENT,
        }));
    }
    if let (Some(mount), true) = (mount, out.is_empty()) {
        return Err(ToolError::InvalidArguments(format!(
            "`{mount}` is not a mounted filesystem that holds data"
        )));
    }
    Ok(json!({"filesystems": out, "warnAtPercent": DISK_WARN_PERCENT}))
}

/// Size, used and free (to unprivileged users) bytes of a filesystem.
// fsblkcnt_t and the fragment size are 32 bits on some targets.
#[allow(clippy::unnecessary_cast)]
fn sizes(stat: &nix::sys::statvfs::Statvfs) -> (u64, u64, u64) {
    let block = stat.fragment_size() as u64;
    let size = stat.blocks() as u64 * block;
    let free = stat.blocks_available() as u64 * block;
    let used = size.saturating_sub(stat.blocks_free() as u64 * block);
    (size, used, free)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn read(path: &str) -> Result<String, ToolError> {
    std::fs::read_to_string(path).map_err(|e| ToolError::Failed(format!("cannot read {path}: {e}")))
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round1(part as f64 / whole as f64 * 100.0)
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_overview_matches_this_machine() {
        let doc = overview().await.unwrap();
        let cpu = doc["cpu"]["usagePercent"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&cpu), "{doc}");
        let total = doc["memory"]["totalBytes"].as_u64().unwrap();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kib: u64 = meminfo
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(total, kib * 1024);
        assert!(doc["memory"]["usedBytes"].as_u64().unwrap() <= total);
        assert!(doc["uptimeSeconds"].as_f64().unwrap() > 0.0);
        assert!(doc["cpu"]["load"]["1m"].is_number());
    }

    #[test]
    fn the_root_filesystem_is_listed_as_statvfs_sees_it() {
        let doc = disks(Some("/")).unwrap();
        let root = &doc["filesystems"][0];
        assert_eq!(root["mount"], "/");
        let stat = nix::sys::statvfs::statvfs("/").unwrap();
        let (size, _, _) = sizes(&stat);
        assert_eq!(root["sizeBytes"].as_u64().unwrap(), size);
        let used = root["usedPercent"].as_f64().unwrap();
        assert_eq!(root["warning"].as_bool().unwrap(), used >= 80.0);
        let err = disks(Some("/no/such/mount")).unwrap_err();
        assert!(
            err.to_string().contains("not a mounted filesystem"),
            "{err}"
        );
    }

    #[test]
    fn escaped_mount_points_are_read_back() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
    }
}
