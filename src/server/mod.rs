//! The inbound HTTP/1.1 server over httparse: connection loop, limits,
//! timeouts, and the `Service` trait the gateway and the mock upstream implement.

mod body;
mod conn;
mod io;
mod parse;
mod request;
mod responder;

use std::future::Future;
use std::time::Duration;

pub use conn::{WorkerGauge, serve_connection};
pub use io::ClientIo;
pub use parse::{Framing, parse_request_head};
pub use request::Request;
pub use responder::Responder;

use crate::api::ApiError;
use crate::config::ServerConfig;

/// Per-connection limits, taken from `[server]` at start.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
    /// Connections one worker serves at once; more are refused with a 503.
    pub max_connections: usize,
    /// Bytes all request bodies on one worker may hold at once.
    pub max_body_memory_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Limits {
    pub fn from_config(s: &ServerConfig) -> Self {
        Self {
            max_header_bytes: s.max_header_bytes,
            max_headers: s.max_headers,
            max_body_bytes: s.max_body_bytes,
            max_connections: s.max_connections,
            max_body_memory_bytes: s.max_body_memory_bytes,
            header_timeout: Duration::from_millis(s.header_timeout_ms),
            body_timeout: Duration::from_millis(s.body_timeout_ms),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms),
        }
    }
}

/// Headers a service adds to a response of its own making (name, value).
pub type OwnHeaders = Vec<(&'static str, String)>;

/// What answers requests on a connection. One instance per worker.
pub trait Service: 'static {
    fn call(&self, req: Request, resp: &mut Responder<'_>) -> impl Future<Output = ()>;

    /// Looks at a parsed head before any of its body is read (and before
    /// `100 Continue`): a refusal is answered at once and the body never
    /// occupies memory. The default admits everything.
    fn admit(&self, _req: &Request) -> Result<(), ApiError> {
        Ok(())
    }

    /// The error body a refusal from [`Service::admit`] goes out with, in
    /// the shape this route's clients read, and headers of its own (the
    /// request id clients quote). The default is OpenAI's, without any.
    fn error_body(&self, _req: &Request, err: &ApiError) -> (Vec<u8>, OwnHeaders) {
        (err.to_json(), Vec::new())
    }

    /// A connection was accepted.
    fn on_connect(&self) {}

    /// A connection closed, for whatever reason.
    fn on_disconnect(&self) {}
}
