//! Canonical ⇄ Anthropic Messages conversion: the request body we send,
//! the response we get back, and upstream errors mapped to OpenAI's shape.

mod error;
mod request;
mod response;
mod tools;
mod turns;

pub(crate) use error::classify as error_classify;
pub use error::map_error;
pub use request::{build_request, write_request};
pub use response::{map_stop_reason, map_usage, parse_response};

use crate::canonical::OpenAiError;

pub use super::AnthropicOptions;

/// Why a conversion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The client's request cannot be expressed for Anthropic (a 400 with
    /// `param` pointing at the field).
    #[error("{param}: {message}")]
    InvalidRequest { param: String, message: String },
    /// Anthropic answered with a body we could not read (a 502).
    #[error("unreadable upstream response: {0}")]
    UpstreamBody(String),
}

impl ConvertError {
    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ConvertError::InvalidRequest {
            param: param.into(),
            message: message.into(),
        }
    }

    /// The error a client should see.
    pub fn to_openai(&self) -> OpenAiError {
        match self {
            ConvertError::InvalidRequest { param, message } => OpenAiError {
                status: 400,
                message: format!("{param}: {message}"),
                r#type: "invalid_request_error".into(),
                code: None,
                param: Some(param.clone()),
            },
            ConvertError::UpstreamBody(detail) => OpenAiError::new(
                502,
                "server_error",
                format!("unreadable response from Anthropic: {detail}"),
            )
            .with_code("bad_upstream_response"),
        }
    }
}
