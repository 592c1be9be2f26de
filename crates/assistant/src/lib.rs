//! hwc-ai-assistant: a read-only operations assistant.

pub mod audit;
pub mod refusal;
