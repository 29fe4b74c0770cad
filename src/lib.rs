//! Tollgate: a thread-per-core LLM gateway. Data flows one way: socket →
//! `server` (HTTP/1.1) → `api` → `gateway` → `router` → `providers` →
//! `upstream` → back through the provider's relay or translator → client.

pub mod api;
pub mod canonical;
pub mod cli;
pub mod config;
pub mod context_window;
#[doc(hidden)]
pub mod fuzz;
pub mod gateway;
pub mod governance;
pub mod guard;
pub mod http1;
pub mod mcp;
pub mod mock_upstream;
pub mod net;
pub mod observe;
pub mod providers;
pub mod resilience;
pub mod router;
pub mod runtime;
pub mod server;
pub mod sse;
pub mod store;
#[cfg(test)]
pub(crate) mod test_rng;
pub mod tls;
pub mod upstream;
