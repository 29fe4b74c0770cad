//! Google Gemini (`generateContent` / `streamGenerateContent?alt=sse`) adapter:
//! pure translation between the canonical model and Gemini's wire format.

pub mod args;
pub mod convert;
pub mod ids;
mod request;
mod response;
pub mod schema;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod wire;
