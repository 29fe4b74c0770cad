//! Tollgate: a thread-per-core LLM gateway.

pub mod providers;
