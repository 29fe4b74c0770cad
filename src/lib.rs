//! Tollgate: a thread-per-core LLM gateway.
