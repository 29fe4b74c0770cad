//! Byte streams shared by both sides of the proxy: plain TCP or TLS over TCP.

mod stream;

pub use stream::MaybeTls;
