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
            code: None,
            param: (!self.param.is_empty()).then(|| self.param.clone()),
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
