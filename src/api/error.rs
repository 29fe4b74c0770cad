//! Every error a client sees, rendered as OpenAI-shaped JSON:
//! `{"error":{"message":…,"type":…,"param":…,"code":…}}`.

/// The one client-facing error: the canonical model's OpenAI-shaped error,
/// with the constructors the gateway's own failures use.
pub use crate::canonical::OpenAiError as ApiError;

impl ApiError {
    /// An error with a machine-readable `code`.
    pub fn coded(status: u16, kind: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::new(status, kind, message).with_code(code)
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid_request(code: &str, message: impl Into<String>) -> Self {
        Self::coded(400, "invalid_request_error", code, message)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::coded(
            404,
            "invalid_request_error",
            "model_not_found",
            format!("The model `{model}` does not exist or is not configured on this gateway."),
        )
        .with_param("model")
    }

    pub fn not_found(path: &str) -> Self {
        Self::coded(
            404,
            "invalid_request_error",
            "not_found",
            format!("No route for {path}."),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::coded(
            405,
            "invalid_request_error",
            "method_not_allowed",
            "Method not allowed for this route.",
        )
    }

    pub fn upstream(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::coded(status, "upstream_error", code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::coded(500, "server_error", "internal_error", message)
    }

    /// The response body.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.message.len());
        self.write_body(&mut out);
        out
    }
}

/// Appends `s` as a JSON string literal to a `String` builder, with the
/// canonical escaper.
pub fn push_json_str(out: &mut String, s: &str) {
    // SAFETY: `write_str` appends `s` (valid UTF-8) with ASCII escapes and
    // ASCII quotes, so the `String` stays valid UTF-8.
    crate::canonical::json::write_str(unsafe { out.as_mut_vec() }, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openai_shape() {
        let e = ApiError::invalid_request("invalid_json", "bad \"x\"\n").with_param("model");
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            r#"{"error":{"message":"bad \"x\"\n","type":"invalid_request_error","param":"model","code":"invalid_json"}}"#
        );
    }
}
