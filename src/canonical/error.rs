//! Errors of the canonical layer: a rejected client request (with the JSON
//! path of the bad field) and the OpenAI-shaped error every client sees.

use super::json;

/// A client request the gateway refuses; rendered as a 400 with `param`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct CanonicalError {
    param: String,
    message: String,
}

impl CanonicalError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        CanonicalError {
            param: param.into(),
            message: message.into(),
        }
    }

    /// The JSON path of the offending field, e.g. `messages[2].content`;
    /// empty when the body as a whole is wrong.
    pub fn param(&self) -> &str {
        &self.param
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The OpenAI error a client should get for this request.
    pub fn to_openai(&self) -> OpenAiError {
        OpenAiError {
            status: 400,
            message: if self.param.is_empty() {
                self.message.clone()
            } else {
                format!("{}: {}", self.param, self.message)
            },
            r#type: "invalid_request_error".into(),
            code: self.code().map(str::to_owned),
            param: (!self.param.is_empty()).then(|| self.param.clone()),
        }
    }

    /// The code the passthrough inspection (`api::chat`) gives the same
    /// fault, so a malformed body gets one answer whatever its provider.
    fn code(&self) -> Option<&'static str> {
        let m = self.message.as_str();
        if m == "is required" {
            Some("missing_required_parameter")
        } else if m.contains("must not be empty") || m.starts_with("must be at least") {
            Some("invalid_value")
        } else if m.contains("must be a") && !m.contains("integer") {
            Some("invalid_type")
        } else {
            None
        }
    }
}

/// The error body clients see: `{"error":{"message","type","param","code"}}`
/// plus the HTTP status it goes out with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiError {
    pub status: u16,
    pub message: String,
    pub r#type: String,
    pub code: Option<String>,
    pub param: Option<String>,
}

impl OpenAiError {
    pub fn new(status: u16, r#type: &str, message: impl Into<String>) -> Self {
        OpenAiError {
            status,
            message: message.into(),
            r#type: r#type.into(),
            code: None,
            param: None,
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Appends the JSON body (without status) to `out`.
    pub fn write_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"error\":{\"message\":");
        json::write_str(out, &self.message);
        out.extend_from_slice(b",\"type\":");
        json::write_str(out, &self.r#type);
        out.extend_from_slice(b",\"param\":");
        json::write_opt_str(out, self.param.as_deref());
        out.extend_from_slice(b",\"code\":");
        json::write_opt_str(out, self.code.as_deref());
        out.extend_from_slice(b"}}");
    }
}

/// Why a translated stream cannot be finished cleanly, whatever the provider.
/// Once the first byte went to the client, the caller renders it with
/// `write_openai_stream_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The provider sent an error mid-stream (e.g. overloaded, unavailable).
    #[error("upstream error: {}", .0.message)]
    Upstream(OpenAiError),
    /// The stream ended before the provider's end-of-answer marker.
    #[error("upstream stream ended before the answer was complete")]
    Truncated,
    /// An event we could not read.
    #[error("malformed upstream event: {0}")]
    Malformed(String),
}

/// The first error a stream translator met: every later call reports it
/// again, so a failed stream never resumes or ends cleanly.
#[derive(Debug, Clone, Default)]
pub struct FirstFailure(Option<StreamError>);

impl FirstFailure {
    /// `Err` with the failure met so far, if any.
    pub fn check(&self) -> Result<(), StreamError> {
        match &self.0 {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Keeps the failure in `result` (the first one only) and passes it on.
    pub fn record<T>(&mut self, result: Result<T, StreamError>) -> Result<T, StreamError> {
        if let Err(e) = &result {
            self.0.get_or_insert_with(|| e.clone());
        }
        result
    }
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
                format!("malformed event from the provider: {detail}"),
            )
            .with_code("bad_upstream_response"),
        }
    }
}
