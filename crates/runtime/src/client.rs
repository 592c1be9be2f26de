//! Outbound HTTP: one client policy for every daemon, and one TLS config
//! for every upstream a config names.
//!
//! Every client says who it is (`User-Agent: hwc-ai-<daemon>/<version>`),
//! ignores proxy variables from the environment (every upstream is
//! declared: loopback, or an address the operator wrote down), and gives
//! up connecting after [`CONNECT_TIMEOUT`] unless told otherwise. Building
//! one is an error to report, not a panic.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{ConfigError, SecretSource};

/// How long a connection may take to open. Every upstream is on the host
/// or the LAN, or a cloud API that answers a SYN at once: ten seconds is
/// a dead host, not a slow one.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client policy every daemon starts from; `daemon` is the name after
/// `hwc-ai-` (`prober`, `router`, ...). Add timeouts, redirects and TLS
/// ([`TlsConfig::apply`]) on top.
pub fn builder(daemon: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(user_agent(daemon))
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
}

/// `hwc-ai-<daemon>/<version>`, the User-Agent of every client, also one
/// built on another HTTP stack (the MCP gateway's remote servers).
pub fn user_agent(daemon: &str) -> String {
    format!("hwc-ai-{daemon}/{}", env!("CARGO_PKG_VERSION"))
}

/// Builds `builder`; an error names `path` (the config field whose TLS
/// files made it fail, or the daemon's section).
pub fn build(builder: reqwest::ClientBuilder, path: &str) -> Result<reqwest::Client, ConfigError> {
    builder
        .build()
        .map_err(|err| ConfigError::at(path, format!("cannot build the HTTP client: {err}")))
}

/// How to trust an upstream's certificate and how to present one. The
/// same fields wherever a config has a `tls` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates (a homelab CA) trusted besides the
    /// system's: every certificate in it. `ca` is read as the same field
    /// (the name older configs used).
    #[serde(default, alias = "ca")]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM), for upstreams that require one.
    #[serde(default)]
    pub client_certificate: Option<PathBuf>,
    /// Its private key (PEM), a secret.
    #[serde(default)]
    pub client_key: Option<SecretSource>,
    /// The name to verify the server's certificate against (and send as
    /// SNI), when it is not the URL's host. Only where a daemon's docs say
    /// it is read.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any certificate. Only where a daemon's docs allow it (the
    /// prober's targets); logged as a warning at start.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// What a daemon lets a `tls` section use beyond the CA and the client
/// certificate.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsAllows {
    pub server_name: bool,
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// Shape checks for `--check-config`; `path` is the section's path.
    pub fn check(&self, path: &str, allows: TlsAllows) -> Result<(), ConfigError> {
        for (field, file) in [
            ("caFile", &self.ca_file),
            ("clientCertificate", &self.client_certificate),
        ] {
            if let Some(file) = file {
                if !file.is_absolute() {
                    return Err(ConfigError::at(
                        format!("{path}.{field}"),
                        format!("`{}` is not an absolute path", file.display()),
                    ));
                }
            }
        }
        if self.client_certificate.is_some() != self.client_key.is_some() {
            return Err(ConfigError::at(
                path,
                "clientCertificate and clientKey go together: set both or neither",
            ));
        }
        if let Some(key) = &self.client_key {
            key.check(&format!("{path}.clientKey"))?;
        }
        if self.server_name.is_some() && !allows.server_name {
            return Err(ConfigError::at(
                format!("{path}.serverName"),
                "not read here: connect to the name the certificate carries",
            ));
        }
        if self.insecure_skip_verify && !allows.insecure_skip_verify {
            return Err(ConfigError::at(
                format!("{path}.insecureSkipVerify"),
                "not allowed here: trust the upstream's CA with caFile",
            ));
        }
        Ok(())
    }

    /// Adds the CA bundle, the client certificate and (when set)
    /// `insecureSkipVerify` to `builder`. `serverName` is the caller's: it
    /// needs the upstream's address. Errors name `path`'s fields.
    pub fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
        path: &str,
    ) -> Result<reqwest::ClientBuilder, ConfigError> {
        if let Some(file) = &self.ca_file {
            let at = format!("{path}.caFile");
            let pem = std::fs::read(file).map_err(|err| {
                ConfigError::at(&at, format!("cannot read {}: {err}", file.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
                ConfigError::at(
                    &at,
                    format!("{}: not a PEM certificate bundle: {err}", file.display()),
                )
            })?;
            if certs.is_empty() {
                return Err(ConfigError::at(
                    &at,
                    format!("{}: holds no PEM certificate", file.display()),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&self.client_certificate, &self.client_key) {
            let at = format!("{path}.clientCertificate");
            let mut pem = std::fs::read(cert).map_err(|err| {
                ConfigError::at(&at, format!("cannot read {}: {err}", cert.display()))
            })?;
            pem.push(b'\n');
            pem.extend_from_slice(key.read(&format!("{path}.clientKey"))?.expose().as_bytes());
            let identity = reqwest::Identity::from_pem(&pem).map_err(|err| {
                ConfigError::at(&at, format!("not a PEM certificate and key: {err}"))
            })?;
            builder = builder.identity(identity);
        }
        if self.insecure_skip_verify {
            tracing::warn!(
                "{path}.insecureSkipVerify is on: this upstream's certificate is not checked"
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_the_old_name_of_ca_file() {
        let old: TlsConfig = serde_json::from_str(r#"{"ca": "/etc/ca.pem"}"#).unwrap();
        let new: TlsConfig = serde_json::from_str(r#"{"caFile": "/etc/ca.pem"}"#).unwrap();
        assert_eq!(old, new);
        assert_eq!(new.ca_file, Some(PathBuf::from("/etc/ca.pem")));
    }

    #[test]
    fn insecure_and_server_name_only_where_allowed() {
        let tls: TlsConfig = serde_json::from_str(r#"{"insecureSkipVerify": true}"#).unwrap();
        let err = tls.check("x.tls", TlsAllows::default()).unwrap_err();
        assert!(
            err.to_string().contains("x.tls.insecureSkipVerify"),
            "{err}"
        );
        let prober = TlsAllows {
            insecure_skip_verify: true,
            ..TlsAllows::default()
        };
        tls.check("x.tls", prober).unwrap();
        let tls: TlsConfig = serde_json::from_str(r#"{"serverName": "ha.lan"}"#).unwrap();
        assert!(tls.check("x.tls", prober).is_err());
    }

    #[test]
    fn a_file_without_certificates_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let tls = TlsConfig {
            ca_file: Some(file),
            ..TlsConfig::default()
        };
        let err = tls.apply(builder("test"), "t.tls").unwrap_err();
        assert!(err.to_string().contains("t.tls.caFile"), "{err}");
    }
}
