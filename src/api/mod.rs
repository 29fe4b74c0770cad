//! The inbound APIs (dialects): OpenAI Chat Completions (`openai`, `chat`)
//! and Anthropic Messages (`anthropic`), each parsing into the canonical
//! model and writing answers, stream events and errors in its own shape.

pub mod anthropic;
pub mod body_edit;
pub mod chat;
pub mod error;
pub mod openai;
pub mod scrub;

pub use error::ApiError;
