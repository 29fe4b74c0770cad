//! MCP's wire text, free of I/O: JSON-RPC messages, protocol versions and
//! eras, the Streamable HTTP request headers, federated names, cursors and
//! signed session ids.

pub mod headers;
