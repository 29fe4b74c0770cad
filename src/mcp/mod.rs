//! The MCP gateway: one endpoint (`/mcp`) federating many tool servers
//! behind the gateway's keys, tool policies and approvals. `wire/` is the
//! protocol's text (messages, versions, headers, names, sessions), pure;
//! `upstream/` the client side (Streamable HTTP per core, stdio per key);
//! `oauth` the resource-server side of OAuth.

pub mod auth;
mod call;
pub mod catalog;
mod core;
pub mod endpoint;
mod held;
mod json;
mod listen;
mod lists;
mod record;
mod rounds;
mod sessions;
mod shared;
pub mod supervisor;

pub use sessions::init as init_sessions;

pub mod oauth;
pub mod upstream;
pub mod wire;
