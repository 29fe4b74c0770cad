//! The inbound API: OpenAI wire handling and the one error shape every client sees.

pub mod anthropic;
pub mod body_edit;
pub mod chat;
pub mod error;
pub mod scrub;

pub use error::ApiError;
