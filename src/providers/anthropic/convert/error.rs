//! Anthropic error responses → the OpenAI-shaped error clients see.

use crate::api::scrub::scrub_text;
use crate::canonical::OpenAiError;
use crate::providers::anthropic::wire::ErrorBody;

/// Maps an upstream error status and body. Client-side classes keep their
/// status (400, 401, 403, 404, 413, 429); upstream failures become gateway
/// statuses: 529 `overloaded_error` → 503, 504 → 504, any other 5xx → 502.
pub fn map_error(status: u16, body: &[u8]) -> OpenAiError {
    let mut buf = body.to_vec();
    let parsed: Option<ErrorBody> = simd_json::serde::from_slice(&mut buf).ok();
    let (kind, message) = match &parsed {
        Some(b) => (b.error.kind.as_ref(), b.error.message.to_string()),
        None => ("", fallback_message(status, body)),
    };
    let (status, r#type, code) = classify(status, kind);
    // The caller hides the keys it sent; anything else key-shaped goes here.
    let message = scrub_text(&message, &[]).into_owned();
    let mut err = OpenAiError::new(status, r#type, message);
    err.code = code.map(str::to_owned);
    err
}

/// `(status, OpenAI type, code)` for an Anthropic status and error type.
pub(crate) fn classify(status: u16, kind: &str) -> (u16, &'static str, Option<&'static str>) {
    match (status, kind) {
        (529, _) | (_, "overloaded_error") => (503, "server_error", Some("overloaded")),
        (504, _) | (_, "timeout_error") => (504, "server_error", Some("upstream_timeout")),
        (401, _) | (_, "authentication_error") => {
            (401, "authentication_error", Some("invalid_api_key"))
        }
        (403, _) | (_, "permission_error") => (403, "permission_error", None),
        (404, _) | (_, "not_found_error") => (404, "not_found_error", None),
        (413, _) | (_, "request_too_large") => {
            (413, "invalid_request_error", Some("request_too_large"))
        }
        (429, _) | (_, "rate_limit_error") => {
            (429, "rate_limit_error", Some("rate_limit_exceeded"))
        }
        (402, _) | (_, "billing_error") => (402, "insufficient_quota", Some("billing_error")),
        (500..=599, _) | (_, "api_error") => (502, "server_error", Some("upstream_error")),
        (400..=499, _) | (_, "invalid_request_error") => {
            (status.clamp(400, 499), "invalid_request_error", None)
        }
        _ => (502, "server_error", Some("upstream_error")),
    }
}

/// A body that is not Anthropic's error JSON (a proxy's HTML page, say):
/// keep a short, printable piece of it for the operator.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let snippet: String = text.chars().take(200).collect();
    if snippet.trim().is_empty() {
        format!("Anthropic returned HTTP {status}")
    } else {
        format!("Anthropic returned HTTP {status}: {}", snippet.trim())
    }
}
