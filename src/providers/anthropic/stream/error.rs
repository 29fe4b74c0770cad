//! The ways an Anthropic stream can fail after it started, and the OpenAI
//! error event each one becomes.

use crate::canonical::OpenAiError;

/// Why a stream cannot be finished cleanly. Once the first byte went to the
/// client, the caller renders this with `write_openai_stream_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Anthropic sent an `error` event (e.g. `overloaded_error`).
    #[error("upstream error: {}", .0.message)]
    Upstream(OpenAiError),
    /// The stream ended before `message_stop`.
    #[error("upstream stream ended before message_stop")]
    Truncated,
    /// An event we could not read.
    #[error("malformed upstream event: {0}")]
    Malformed(String),
}

impl StreamError {
    pub fn to_openai(&self) -> OpenAiError {
        match self {
            StreamError::Upstream(e) => e.clone(),
            StreamError::Truncated => OpenAiError::new(
                502,
                "server_error",
                "the upstream stream ended before the answer was complete",
            )
            .with_code("stream_truncated"),
            StreamError::Malformed(detail) => OpenAiError::new(
                502,
                "server_error",
                format!("malformed event from Anthropic: {detail}"),
            )
            .with_code("bad_upstream_response"),
        }
    }
}
