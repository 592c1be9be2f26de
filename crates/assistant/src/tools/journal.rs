//! Error-priority journal entries of a few units, read through
//! libsystemd's `sd-journal` API (loaded at run time, so nothing here
//! needs systemd's headers to build and a machine without it only loses
//! this part). Read-only: the journal is opened, searched and closed.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libloading::{Library, Symbol};
use serde_json::{json, Value};

/// Where libsystemd is: the build may name the exact file (Nix does);
/// otherwise the dynamic loader finds it.
const LIBSYSTEMD: &str = match option_env!("HWC_AI_LIBSYSTEMD") {
    Some(path) => path,
    None => "libsystemd.so.0",
};

/// Entries kept per unit and in all; characters kept per message.
const PER_UNIT: usize = 5;
const TOTAL: usize = 30;
const MESSAGE_CHARS: usize = 300;

const SD_JOURNAL_LOCAL_ONLY: c_int = 1;

type Journal = *mut c_void;

struct Api {
    _lib: Library,
    open: unsafe extern "C" fn(*mut Journal, c_int) -> c_int,
    add_match: unsafe extern "C" fn(Journal, *const c_void, usize) -> c_int,
    add_disjunction: unsafe extern "C" fn(Journal) -> c_int,
    seek_tail: unsafe extern "C" fn(Journal) -> c_int,
    previous: unsafe extern "C" fn(Journal) -> c_int,
    get_data: unsafe extern "C" fn(Journal, *const c_char, *mut *const c_void, *mut usize) -> c_int,
    get_realtime: unsafe extern "C" fn(Journal, *mut u64) -> c_int,
    close: unsafe extern "C" fn(Journal),
}

impl Api {
    fn load() -> Result<Self, String> {
        // SAFETY: loading libsystemd runs its initialisers, which are
        // designed for exactly this; the symbols are the documented C API
        // with the signatures declared below (sd-journal(3)).
        unsafe {
            let lib = Library::new(LIBSYSTEMD)
                .map_err(|e| format!("libsystemd is not available: {e}"))?;
            macro_rules! sym {
                ($name:literal) => {{
                    let s: Symbol<_> = lib.get($name).map_err(|e| format!("libsystemd: {e}"))?;
                    *s
                }};
            }
            Ok(Self {
                open: sym!(b"sd_journal_open\0"),
                add_match: sym!(b"sd_journal_add_match\0"),
                add_disjunction: sym!(b"sd_journal_add_disjunction\0"),
                seek_tail: sym!(b"sd_journal_seek_tail\0"),
                previous: sym!(b"sd_journal_previous\0"),
                get_data: sym!(b"sd_journal_get_data\0"),
                get_realtime: sym!(b"sd_journal_get_realtime_usec\0"),
                close: sym!(b"sd_journal_close\0"),
                _lib: lib,
            })
        }
    }
}

/// The newest entries at priority err (3) or more urgent, logged by or
/// about each of `units` since `since`, newest first.
pub fn errors(units: &[String], since: SystemTime) -> Result<Vec<Value>, String> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let api = Api::load()?;
    let cutoff = since
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let mut out = Vec::new();
    for unit in units {
        if out.len() >= TOTAL {
            break;
        }
        let mut found = read_unit(&api, unit, cutoff)?;
        found.truncate(PER_UNIT.min(TOTAL - out.len()));
        out.extend(found);
    }
    Ok(out)
}

fn read_unit(api: &Api, unit: &str, cutoff: u64) -> Result<Vec<Value>, String> {
    let mut journal: Journal = std::ptr::null_mut();
    // SAFETY: `journal` is written by sd_journal_open on success and only
    // used until the matching sd_journal_close below; every buffer handed
    // over is a live CString or a local out-parameter.
    unsafe {
        let rc = (api.open)(&mut journal, SD_JOURNAL_LOCAL_ONLY);
        if rc < 0 {
            return Err(format!(
                "cannot open the journal ({})",
                std::io::Error::from_raw_os_error(-rc)
            ));
        }
        let add = |text: &str| {
            let c = CString::new(text).unwrap_or_default();
            (api.add_match)(journal, c.as_ptr().cast(), text.len())
        };
        // (the unit's own lines OR systemd's lines about it) AND priority 0-3.
        for field in ["_SYSTEMD_UNIT", "UNIT"] {
            add(&format!("{field}={unit}"));
            for p in 0..=3 {
                add(&format!("PRIORITY={p}"));
            }
            (api.add_disjunction)(journal);
        }
        (api.seek_tail)(journal);
        let mut out = Vec::new();
        while out.len() < PER_UNIT && (api.previous)(journal) > 0 {
            let mut usec = 0u64;
            (api.get_realtime)(journal, &mut usec);
            if usec < cutoff {
                break;
            }
            let field = |name: &CStr| -> Option<String> {
                let mut data: *const c_void = std::ptr::null();
                let mut len = 0usize;
                if (api.get_data)(journal, name.as_ptr(), &mut data, &mut len) < 0 || data.is_null()
                {
                    return None;
                }
                let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
                let text = String::from_utf8_lossy(bytes);
                text.split_once('=').map(|(_, v)| v.to_owned())
            };
            let message: String = field(c"MESSAGE")
                .unwrap_or_default()
                .chars()
                .take(MESSAGE_CHARS)
                .collect();
            let at = UNIX_EPOCH + Duration::from_micros(usec);
            out.push(json!({
                "unit": unit,
                "time": humantime::format_rfc3339_seconds(at).to_string(),
                "priority": field(c"PRIORITY").and_then(|p| p.parse::<u8>().ok()),
                "message": message,
            }));
        }
        (api.close)(journal);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_units_read_nothing_and_a_missing_journal_is_a_reason_not_a_crash() {
        assert_eq!(errors(&[], SystemTime::now()).unwrap(), Vec::<Value>::new());
        // On a machine with libsystemd this opens whatever journal there
        // is (possibly none: then no entries); without it, a reason.
        match errors(&["no-such-unit.service".into()], UNIX_EPOCH) {
            Ok(entries) => assert!(entries.is_empty()),
            Err(reason) => assert!(
                reason.contains("libsystemd") || reason.contains("journal"),
                "{reason}"
            ),
        }
    }
}
