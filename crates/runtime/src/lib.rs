//! What every hwc-ai daemon does the same way.
//!
//! A daemon is a library with a typed config and an async `run(config, ctx)`;
//! this crate turns that into a well-behaved systemd service: it loads and
//! checks the config, sets up logging, binds (or inherits) the listener,
//! speaks sd-notify, serves `/metrics`, and drains gracefully on SIGTERM.

pub mod auth;
pub mod client;
pub mod config;
pub mod cors;
pub mod daemon;
pub mod daemons;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod otel;
pub mod secret;
pub mod shutdown;

pub use config::{Common, ConfigError, LogConfig, LogFormat, Validate};
pub use daemon::{Context, Daemon};
pub use secret::{Secret, SecretSource};
pub use shutdown::Shutdown;
