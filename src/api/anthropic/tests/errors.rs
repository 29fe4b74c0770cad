//! Errors in Anthropic's shape and the check for upstream bodies already in it.

use simd_json::prelude::*;

use super::{fixture, json};
use crate::api::ApiError;
use crate::api::anthropic::{error_body, error_type, is_anthropic_error_body};

#[test]
fn statuses_map_to_anthropic_error_types() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (405, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
        (529, "overloaded_error"),
    ] {
        assert_eq!(error_type(status), kind, "{status}");
    }
}

#[test]
fn renders_the_anthropic_body_naming_the_field() {
    let err = ApiError::invalid_request("bad", "is required").with_param("max_tokens");
    assert_eq!(
        String::from_utf8(error_body(&err, Some("req_1"))).unwrap(),
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: is required"},"request_id":"req_1"}"#
    );
    let err = ApiError::model_not_found("claude-x");
    let body = json(&error_body(&err, None));
    assert_eq!(body["error"].get_str("type"), Some("not_found_error"));
    assert!(is_anthropic_error_body(&error_body(&err, None)));
}

#[test]
fn tells_anthropic_shaped_upstream_bodies_from_others() {
    for status in [400, 401, 429, 500, 529] {
        assert!(is_anthropic_error_body(&fixture(&format!(
            "error_{status}.json"
        ))));
        assert!(!is_anthropic_error_body(&fixture(&format!(
            "error_{status}.openai.json"
        ))));
    }
    for other in [
        &br#"{"detail":"Not Found"}"#[..],
        br#"{"type":"error","error":"text"}"#,
        br#"{"error":{"type":"x","message":"y"}}"#,
        b"<html>Bad Gateway</html>",
        b"",
    ] {
        assert!(!is_anthropic_error_body(other));
    }
}
