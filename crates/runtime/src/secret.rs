//! Secrets: named in the config, read from files at start.
//!
//! A config never holds a secret's value. It holds where to find it: a file
//! path, or the name of a systemd credential (`LoadCredential=NAME:PATH`),
//! which resolves to `$CREDENTIALS_DIRECTORY/NAME`. The value lives in a
//! [`Secret`], whose `Debug` and `Display` never show it, so a stray `{:?}`
//! in a log line cannot leak it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ConfigError;

/// Where a secret comes from.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SecretSource {
    /// An absolute path, readable by the daemon.
    File(PathBuf),
    /// A systemd credential name, read from `$CREDENTIALS_DIRECTORY`.
    Credential(String),
}

impl SecretSource {
    /// Shape checks that need no file system (so `--check-config` can run at
    /// build time, where credentials do not exist yet).
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        match self {
            SecretSource::File(file) if !file.is_absolute() => Err(ConfigError::at(
                format!("{path}.file"),
                format!("`{}` is not an absolute path", file.display()),
            )),
            SecretSource::Credential(name)
                if name.is_empty() || name.contains('/') || name == "." || name == ".." =>
            {
                Err(ConfigError::at(
                    format!("{path}.credential"),
                    format!("`{name}` is not a credential name (no slashes, not empty)"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Reads the secret. `path` is the config field, for the error message;
    /// the error never contains the value.
    pub fn read(&self, path: &str) -> Result<Secret, ConfigError> {
        let file = self
            .location()
            .map_err(|message| ConfigError::at(path, message))?;
        let text = std::fs::read_to_string(&file).map_err(|err| {
            ConfigError::at(
                path,
                format!("cannot read secret {}: {err}", file.display()),
            )
        })?;
        let value = text.trim_end_matches(['\n', '\r']).to_owned();
        if value.is_empty() {
            return Err(ConfigError::at(
                path,
                format!("secret {} is empty", file.display()),
            ));
        }
        Ok(Secret(value))
    }

    fn location(&self) -> Result<PathBuf, String> {
        match self {
            SecretSource::File(file) => Ok(file.clone()),
            SecretSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    format!(
                        "credential `{name}` needs $CREDENTIALS_DIRECTORY \
                         (systemd LoadCredential=), which is not set"
                    )
                })?;
                Ok(Path::new(&dir).join(name))
            }
        }
    }
}

/// A secret value. Its `Debug`/`Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it (a header, a URL).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_and_strips_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-canary\n").unwrap();
        let secret = SecretSource::File(file).read("bearerToken").unwrap();
        assert_eq!(secret.expose(), "s3cret-canary");
        assert!(!format!("{secret:?} {secret}").contains("canary"));
    }

    #[test]
    fn missing_file_names_field_and_path_only() {
        let err = SecretSource::File("/nonexistent/token".into())
            .read("targets[1].bearerToken")
            .unwrap_err();
        assert_eq!(err.path, "targets[1].bearerToken");
        assert!(err.message.contains("/nonexistent/token"), "{err}");
    }

    #[test]
    fn shape_checks_need_no_files() {
        let rel = SecretSource::File("token".into()).check("a").unwrap_err();
        assert_eq!(rel.path, "a.file");
        let bad = SecretSource::Credential("../x".into())
            .check("a")
            .unwrap_err();
        assert_eq!(bad.path, "a.credential");
        assert!(SecretSource::Credential("ntfy-url".into())
            .check("a")
            .is_ok());
    }

    #[test]
    fn empty_secret_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "\n").unwrap();
        assert!(SecretSource::File(file).read("x").is_err());
    }
}
