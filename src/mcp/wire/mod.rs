//! MCP's wire text, free of I/O: JSON-RPC messages, protocol versions and
//! eras, the Streamable HTTP request headers, federated names, cursors and
//! signed session ids and request states.

pub mod cursor;
pub mod headers;
mod json;
pub mod message;
pub mod names;
pub mod reply;
pub mod session;
pub mod state;
pub mod version;

pub use message::WireError;
