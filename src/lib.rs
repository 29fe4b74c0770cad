//! Tollgate: a thread-per-core LLM gateway.

pub mod canonical;
pub mod providers;
pub mod sse;
