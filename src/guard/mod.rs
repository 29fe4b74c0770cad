//! Guards: what may reach a model and what may reach the client. Prompt
//! injection scoring (`injection/`), PII and secret-shaped text in requests
//! and streamed answers (`text/`), the tool policy shared by model tool
//! calls and MCP `tools/call` (`tools/`), human approvals bound to one exact
//! call (`approvals/`), and the external check hook (`external.rs`). Each is
//! a library the gateway's guard stage and response obligations call; none
//! does I/O on a request's path except the external hook, which is bounded.

pub mod approvals;
pub mod external;
pub mod injection;
pub mod seen;
pub mod strings;
pub mod text;
pub mod tools;
