//! Upstream error bodies → the OpenAI-shaped error clients see. An
//! OpenAI-shaped body is kept as the provider wrote it (type, code, param),
//! with its status; anything else (FastAPI's `{"detail":…}`, a bare
//! `{"message":…}`, `{"error":"text"}`, an HTML page) is wrapped in that
//! shape with the status kept and a type chosen from the status.

use simd_json::tape::Value;

use crate::api::ApiError;
use crate::api::scrub::scrub_text;
use crate::canonical::raw::RawJson;
use crate::canonical::tape::prelude::*;
use crate::canonical::tape::{member, with_tape};

/// Maps an upstream error status and body. Messages are scrubbed of
/// key-shaped tokens; the caller hides the key it sent.
pub fn map_error(status: u16, body: &[u8]) -> ApiError {
    with_tape(body, |parsed, _| {
        let Ok(tape) = parsed else {
            return wrapped(status, text_snippet(body));
        };
        let root = tape.as_value();
        match member(root, "error").filter(|e| !e.is_null()) {
            Some(error) => error_from_value(status, error),
            None => wrapped(status, json_message(root)),
        }
    })
}

/// The `error` member of a body or stream event: an OpenAI error object, or
/// a bare string some servers put there.
pub(super) fn error_from_value(status: u16, error: Value<'_, '_>) -> ApiError {
    if let Some(text) = error.as_str() {
        return wrapped(status, Some(text.to_owned()));
    }
    let text = |key| member(error, key).and_then(|v| v.into_string());
    let Some(message) = text("message") else {
        return wrapped(status, Some(RawJson::from_tape(error).into_string()));
    };
    let mut err = ApiError::new(
        status,
        text("type").unwrap_or(type_for(status)),
        scrub_text(message, &[]).into_owned(),
    );
    // Some servers send a numeric code (vLLM: the HTTP status).
    err.code = member(error, "code").and_then(|c| match c.as_str() {
        Some(s) => Some(s.to_owned()),
        None if c.is_null() => None,
        None => Some(RawJson::from_tape(c).into_string()),
    });
    err.param = text("param").map(str::to_owned);
    err
}

/// The readable part of a non-OpenAI JSON error: `detail` (FastAPI, as a
/// string or a list of problems) or `message`, else the body itself.
fn json_message(root: Value<'_, '_>) -> Option<String> {
    for key in ["detail", "message", "msg"] {
        if let Some(v) = member(root, key).filter(|v| !v.is_null()) {
            return Some(match v.as_str() {
                Some(s) => s.to_owned(),
                None => RawJson::from_tape(v).into_string(),
            });
        }
    }
    Some(RawJson::from_tape(root).into_string())
}

/// A short, printable piece of a body that is not JSON.
fn text_snippet(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let snippet: String = text.trim().chars().take(200).collect();
    (!snippet.is_empty()).then_some(snippet)
}

fn wrapped(status: u16, detail: Option<String>) -> ApiError {
    let message = match detail {
        Some(detail) => format!(
            "The provider returned HTTP {status}: {}",
            scrub_text(&truncate(detail), &[])
        ),
        None => format!("The provider returned HTTP {status}."),
    };
    let mut err = ApiError::new(status, type_for(status), message);
    err.code = Some("upstream_error".into());
    err
}

fn truncate(mut text: String) -> String {
    if text.len() > 500 {
        let mut end = 500;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// OpenAI's error type for a status.
fn type_for(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}
