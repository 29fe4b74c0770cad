//! The client side of the MCP gateway: talking to upstream tool servers.
