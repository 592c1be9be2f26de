//! A faithful, stateful fake of Ollama's HTTP API.
//!
//! It serves what clients of Ollama use, with the shapes and error cases of
//! the real server: `/api/version`, `/api/tags`, `/api/pull` (NDJSON
//! progress over time, resumable), `/api/show`, `/api/delete`,
//! `/api/generate`, `/api/chat`, `/api/embed`, `/api/embeddings`,
//! `/api/ps`, and the OpenAI-compatible `/v1/models`,
//! `/v1/chat/completions` (SSE too) and `/v1/embeddings`. Answers are
//! deterministic (see [`text`]): this fakes plumbing, not intelligence.
//!
//! Tests hold a [`FakeOllama`], serve it with [`FakeOllama::spawn`], and
//! steer it while it runs: publish new upstream versions, inject
//! [`Faults`], count calls.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hwc_ai_ollama_fake::{Fault, Faults, FakeOllama, PullFault};
//!
//! let fake = FakeOllama::builtin();
//! fake.set_faults(
//!     "llama3.2:3b",
//!     Faults::none().with_pull(Fault::once(PullFault::Drop { after_bytes: 1 << 20 })),
//! ).unwrap();
//! let server = fake.spawn().await?;
//! // point the client at server.url(), then:
//! assert_eq!(fake.calls().pull(), 0);
//! server.stop().await;
//! # Ok(()) }
//! ```

pub mod catalog;
mod fake;
pub mod fault;
mod http;
pub mod name;
pub mod scenario;
pub mod state;
pub mod text;

pub use catalog::{Capability, CatalogModel, Details, Layer};
pub use fake::{Error, FakeOllama, Server};
pub use fault::{Failure, Fault, Faults, InferenceFault, PullFault, PullSpeed};
pub use name::{ModelName, NameError};
pub use scenario::{Scenario, ScenarioError};
pub use state::{Calls, InstalledModel, RecordedRequest};

/// What `/api/version` reports unless told otherwise.
pub const DEFAULT_VERSION: &str = "0.12.6";
