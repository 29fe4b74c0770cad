//! Every error a client sees, rendered as OpenAI-shaped JSON:
//! `{"error":{"message":…,"type":…,"param":…,"code":…}}`.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn new(
        status: u16,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code: Some(code),
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", code, message)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            "model_not_found",
            format!("The model `{model}` does not exist or is not configured on this gateway."),
        )
        .with_param("model")
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            "not_found",
            format!("No route for {path}."),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "invalid_request_error",
            "method_not_allowed",
            "Method not allowed for this route.",
        )
    }

    pub fn upstream(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, "upstream_error", code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", "internal_error", message)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::with_capacity(96 + self.message.len());
        out.push_str("{\"error\":{\"message\":");
        push_json_str(&mut out, &self.message);
        out.push_str(",\"type\":");
        push_json_str(&mut out, self.kind);
        out.push_str(",\"param\":");
        match &self.param {
            Some(p) => push_json_str(&mut out, p),
            None => out.push_str("null"),
        }
        out.push_str(",\"code\":");
        match self.code {
            Some(c) => push_json_str(&mut out, c),
            None => out.push_str("null"),
        }
        out.push_str("}}");
        out.into_bytes()
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
