//! What the puller remembers across restarts (`stateFile`): which digest of
//! each model passed validation, and when the last update run was. With it
//! a restart, or `--once` from a script, costs one `/api/tags` call instead
//! of one inference per model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    /// Unix seconds of the last update run.
    #[serde(default)]
    pub last_update: Option<u64>,
    /// Model key → the digest that passed validation.
    #[serde(default)]
    pub validated: BTreeMap<String, Validated>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Validated {
    pub digest: String,
    /// Unix seconds.
    pub at: u64,
    /// `completion` or `embedding`.
    #[serde(default)]
    pub kind: Option<String>,
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

pub fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The state file.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Reads the file; a missing one is an empty state, a damaged one is
    /// logged and ignored (it only saves work, it is never the truth).
    pub fn load(&self) -> Saved {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(
                    "ignoring state file {}: {err}; every model will be validated again",
                    self.path.display()
                );
                Saved::default()
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(err) => {
                tracing::warn!("cannot read state file {}: {err}", self.path.display());
                Saved::default()
            }
        }
    }

    /// Writes the file atomically (a temporary file renamed over it), so a
    /// crash leaves the old state or the new one, never half of one.
    pub fn save(&self, saved: &Saved) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(saved).expect("state serializes");
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("state.json"));
        assert_eq!(store.load(), Saved::default());
        let mut saved = Saved {
            last_update: Some(42),
            ..Saved::default()
        };
        saved.validated.insert(
            "k".into(),
            Validated {
                digest: "d".into(),
                at: 1,
                kind: Some("completion".into()),
            },
        );
        store.save(&saved).unwrap();
        assert_eq!(store.load(), saved);
        std::fs::write(dir.path().join("state.json"), "{garbage").unwrap();
        assert_eq!(store.load(), Saved::default());
    }
}
