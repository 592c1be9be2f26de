//! hwc-ai-assistant: a read-only operations assistant. It answers
//! questions about this machine from real system data, refuses requests to
//! change anything, and writes every request and tool call to a
//! hash-chained audit log.

pub mod api;
pub mod audit;
pub mod config;
mod daemon;
pub mod direct;
pub mod engine;
pub mod grpc;
pub mod intents;
pub mod metrics;
pub mod otel;
pub mod prompts;
pub mod query;
pub mod refusal;
pub mod sessions;
pub mod tools;
pub mod workflows;

pub use config::Config;
pub use daemon::{run, Assistant};
