//! The client side of the MCP gateway: one upstream tool server as seen
//! from one thread. Streamable HTTP in both eras over the core's own pools
//! (`http`), or a stdio process per (server, key) fed by its own threads
//! (`stdio`); `client` is the one face the gateway calls.

mod answer;
mod client;
mod http;
mod message;
mod probe;
mod spec;
mod stdio;

pub use client::{Client, Exchange, Listener};
pub use spec::{Target, UpstreamSpec};

/// The protocol era an upstream speaks, with the version negotiated in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `initialize` handshake, sessions (2025-03-26 … 2025-11-25).
    Legacy(&'static str),
    /// Stateless, per-request `_meta` (2026-07-28).
    Modern(&'static str),
}

impl Era {
    pub fn version(&self) -> &'static str {
        match self {
            Era::Legacy(v) | Era::Modern(v) => v,
        }
    }
}

/// One thing an upstream sent for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A notification (progress, log) or server request seen before the
    /// answer, raw JSON.
    Message(Vec<u8>),
    /// The whole JSON-RPC response message, raw (its `id` is ours).
    Final(Vec<u8>),
}

/// Why an upstream exchange failed. The text never holds a secret: header
/// values and environment values are never quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpUpstreamError {
    /// could not reach or start the upstream
    #[error("could not reach the MCP server: {0}")]
    Connect(String),
    /// the call ran past its timeout
    #[error("the MCP server did not answer in time")]
    Timeout,
    /// an HTTP status that is neither an answer nor a JSON-RPC error
    #[error("the MCP server answered HTTP {0}")]
    Status(u16),
    /// something that is not MCP as the specification has it
    #[error("the MCP server broke the protocol: {0}")]
    Protocol(String),
    /// the connection or process ended before the answer
    #[error("the MCP server closed the exchange before answering")]
    Closed,
    /// the server offers no such thing (a change stream, most often)
    #[error("the MCP server does not support this")]
    Unsupported,
}

impl From<crate::upstream::UpstreamError> for McpUpstreamError {
    fn from(e: crate::upstream::UpstreamError) -> Self {
        use crate::upstream::UpstreamError as U;
        match e {
            U::Connect(e) => McpUpstreamError::Connect(e.to_string()),
            U::FirstByteTimeout | U::TotalTimeout | U::FirstTokenTimeout | U::Stalled => {
                McpUpstreamError::Timeout
            }
            U::Io(_) | U::Closed => McpUpstreamError::Closed,
            U::Protocol(p) => McpUpstreamError::Protocol(p),
        }
    }
}
