//! Google Gemini (`generateContent` / `streamGenerateContent?alt=sse`) adapter:
//! pure translation between the canonical model and Gemini's wire format.
//! Tool-call ids carry Gemini's thought signatures across turns (see `ids`).

pub mod args;
pub mod convert;
pub mod ids;
pub mod read;
mod request;
mod response;
pub mod schema;
pub mod stream;
pub mod wire;

#[cfg(test)]
mod tests;

pub use convert::{GeminiOptions, SchemaMode};

/// Name used in logs, metrics and the `x-tollgate-provider` header.
pub const PROVIDER_TYPE: &str = "gemini";
