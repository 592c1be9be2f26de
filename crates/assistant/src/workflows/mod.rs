//! Local workflows: declared AI jobs (`workflows.<name>` in the config)
//! run through the assistant's agent loop, its read-only tools and the
//! router, each run written to the audit log.
//!
//! - `config.rs`: a declaration and its checks
//! - `run.rs`: one run, start to end (inputs, output, audit) and the
//!   recent runs
//! - `output.rs`: where results go (files written atomically, the
//!   journal, a webhook)
//! - `prompt.rs`, `journal.rs`, `auto_doc.rs`, `file_triage.rs`: the kinds
//! - `api.rs`: `/v1/workflows` and the OpenAPI tool server `/workflows`
//! - `mcp.rs`: MCP servers' tools through hwc-ai-mcp (`mcpTools`)

pub mod api;
mod auto_doc;
pub mod config;
pub mod file_triage;
mod journal;
pub mod mcp;
mod output;
mod prompt;
pub mod run;

pub use config::{Kind, Workflow};
pub use run::{RunError, Workflows};
