//! The upstream client: per-core keep-alive pools per origin, plain TCP and
//! TLS (rustls), timeouts, and response bodies relayed as they arrive.

mod body;
mod exchange;
mod origin;
mod pool;
mod transport;

pub use body::{BodyChunk, UpstreamBody};
pub use exchange::{UpstreamError, UpstreamRequest, UpstreamResponse, send};
pub use origin::{BaseUrl, Origin};
pub use pool::pool_stats;
pub use transport::Transport;

/// Headers the gateway always writes itself; config may not set them.
pub fn is_reserved_header(name: &str) -> bool {
    const RESERVED: [&str; 8] = [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
    ];
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}
