//! Errors in Anthropic's shape, `{"type":"error","error":{"type":…,"message":…}}`,
//! rendered from the gateway's one error value with Anthropic's status → type table.

use crate::api::ApiError;
use crate::canonical::json::write_str;
use crate::canonical::tape::prelude::*;
use crate::canonical::tape::{member, with_tape};

/// Anthropic's error type for an HTTP status. The gateway's own 502 (a bad
/// upstream) and 504 (an upstream timeout) are `api_error`, what Anthropic
/// itself answers for a failure on its side; a 503 (upstream overloaded, or
/// no deployment available) is `overloaded_error`, which the SDKs retry
/// like Anthropic's own 529.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Appends the error body for `err`; `request_id` is echoed as Anthropic's
/// top-level `request_id` when the caller has one.
pub fn write_error_body(err: &ApiError, request_id: Option<&str>, out: &mut Vec<u8>) {
    out.reserve(64 + err.message.len());
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":");
    write_error_object(err, out);
    if let Some(id) = request_id {
        out.extend_from_slice(b",\"request_id\":");
        write_str(out, id);
    }
    out.push(b'}');
}

/// The body of [`write_error_body`] as a fresh buffer.
pub fn error_body(err: &ApiError, request_id: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    write_error_body(err, request_id, &mut out);
    out
}

/// `{"type":…,"message":…}`, shared by the body and the stream's `error`
/// event. The message names the field when the error has one and the
/// message does not already.
pub(super) fn write_error_object(err: &ApiError, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":");
    write_str(out, error_type(err.status));
    out.extend_from_slice(b",\"message\":");
    match err.param.as_deref() {
        Some(param) if !err.message.starts_with(param) => {
            write_str(out, &format!("{param}: {}", err.message));
        }
        _ => write_str(out, &err.message),
    }
    out.push(b'}');
}

/// Whether an upstream error body is already Anthropic-shaped (a `type` of
/// `"error"` and an `error` object with string `type` and `message`), so it
/// can be relayed as is rather than wrapped.
pub fn is_anthropic_error_body(body: &[u8]) -> bool {
    with_tape(body, |tape, _| {
        let Ok(tape) = tape else {
            return false;
        };
        let root = tape.as_value();
        let is_error = member(root, "type").and_then(|t| t.into_string()) == Some("error");
        let detail = member(root, "error");
        is_error
            && detail
                .and_then(|d| member(d, "type"))
                .is_some_and(|t| t.is_str())
            && detail
                .and_then(|d| member(d, "message"))
                .is_some_and(|m| m.is_str())
    })
}
