//! Tollgate as an OAuth 2.1 resource server for MCP clients (RFC 9728).
