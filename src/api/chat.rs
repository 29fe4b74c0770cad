//! The inbound OpenAI Chat Completions body, inspected once: validated with
//! simd-json, with the few fields the gateway acts on pulled out, and the byte
//! span of `model` found so it can be rewritten without re-serializing.

use std::ops::Range;

use crate::canonical::tape::prelude::*;

use super::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEnvelope {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    /// Span of the top-level `model` value (quotes included) in the original
    /// body; `None` when the key is escaped or repeated (no safe splice).
    pub model_span: Option<Range<usize>>,
    /// `metadata.tags`, the routing tags a client may attach.
    pub tags: Option<String>,
    /// `max_completion_tokens`, else `max_tokens`, when a whole number.
    pub max_tokens: Option<u32>,
    /// The end user the client names (`user`; Anthropic `metadata.user_id`).
    pub end_user: Option<String>,
}

crate::tape_fields! {
    struct Envelope {
        model: "model",
        messages: "messages",
        stream: "stream",
        stream_options: "stream_options",
        metadata: "metadata",
        max_completion_tokens: "max_completion_tokens",
        max_tokens: "max_tokens",
        user: "user",
    }
}

/// An end-user id as the ledger keeps it: present and at most 256 bytes.
pub fn end_user_id(s: &str) -> Option<String> {
    (!s.is_empty() && s.len() <= 256).then(|| s.to_owned())
}

/// `metadata.user_id` when it is a string (Anthropic's end user).
pub fn metadata_user_id(metadata: Option<simd_json::tape::Value<'_, '_>>) -> Option<String> {
    let obj = metadata?.as_object()?;
    crate::canonical::tape::field(&obj, "user_id")?
        .as_str()
        .and_then(end_user_id)
}

/// `metadata.tags` when it is a string (routing tags; anything else is
/// the client's own business).
pub fn metadata_tags(metadata: Option<simd_json::tape::Value<'_, '_>>) -> Option<String> {
    let obj = metadata?.as_object()?;
    crate::canonical::tape::field(&obj, "tags")?
        .as_str()
        .map(str::to_owned)
}

/// How many top-level members are named `key` (a repeated `model` cannot
/// be spliced: which one a parser reads is the parser's choice).
pub fn count_key(obj: &crate::canonical::tape::Obj<'_, '_>, key: &str) -> usize {
    obj.iter().filter(|(k, _)| *k == key).count()
}

/// Whether a body is an OpenAI-shaped error: a JSON object whose `error`
/// member is an object (what OpenAI-compatible providers answer).
pub fn is_openai_error_body(body: &[u8]) -> bool {
    crate::canonical::json_scan::find_top_level_value(body, b"error")
        .is_some_and(|span| body.get(span.start) == Some(&b'{'))
}

/// Validates a chat completion body. It is read as simd-json's tape over the
/// worker's scratch buffers: nothing is allocated for the fields it skips.
pub fn inspect(body: &[u8]) -> Result<ChatEnvelope, ApiError> {
    inspect_with_span(
        body,
        crate::canonical::json_scan::find_top_level_value(body, b"model"),
    )
}

/// As `inspect`, with the span of the first top-level `model` already found
/// by the caller; it is kept only if `model` is not repeated.
pub fn inspect_with_span(
    body: &[u8],
    model_span: Option<Range<usize>>,
) -> Result<ChatEnvelope, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(
            "missing_body",
            "The request body is empty; expected a JSON object.",
        ));
    }
    crate::canonical::scratch::with_tape(body, |tape, _| {
        let tape = tape.map_err(|e| {
            ApiError::invalid_request(
                "invalid_json",
                format!("We could not parse the JSON body of your request: {e}."),
            )
        })?;
        check(tape.as_value(), model_span)
    })
}

/// The checks on a parsed body, and the few fields the gateway acts on.
fn check(
    value: simd_json::tape::Value<'_, '_>,
    model_span: Option<Range<usize>>,
) -> Result<ChatEnvelope, ApiError> {
    let obj = value.as_object().ok_or_else(|| {
        ApiError::invalid_request("invalid_type", "The request body must be a JSON object.")
    })?;
    let top = Envelope::read(&obj);
    let model_span = model_span.filter(|_| count_key(&obj, "model") == 1);

    let model = match top.model {
        None => {
            return Err(ApiError::invalid_request(
                "missing_required_parameter",
                "You must provide a model parameter.",
            )
            .with_param("model"));
        }
        Some(v) => v
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::invalid_request("invalid_type", "`model` must be a non-empty string.")
                    .with_param("model")
            })?,
    };

    match top.messages {
        None => {
            return Err(ApiError::invalid_request(
                "missing_required_parameter",
                "Missing required parameter: 'messages'.",
            )
            .with_param("messages"));
        }
        Some(v) => {
            let messages = v.as_array().ok_or_else(|| {
                ApiError::invalid_request("invalid_type", "`messages` must be an array.")
                    .with_param("messages")
            })?;
            if messages.is_empty() {
                return Err(ApiError::invalid_request(
                    "invalid_value",
                    "`messages` must contain at least one message.",
                )
                .with_param("messages"));
            }
            // The same codes and params the canonical parse gives these faults.
            for (i, m) in messages.iter().enumerate() {
                let fault = match m.as_object().map(|o| o.get("role")) {
                    None => Some(("invalid_type", String::new(), "must be an object")),
                    Some(None) => {
                        Some(("missing_required_parameter", ".role".into(), "is required"))
                    }
                    Some(Some(r)) if r.as_str().is_none() => {
                        Some(("invalid_type", ".role".into(), "must be a string"))
                    }
                    Some(Some(_)) => None,
                };
                if let Some((code, field, what)) = fault {
                    let param = format!("messages[{i}]{field}");
                    return Err(ApiError::invalid_request(code, format!("{param}: {what}"))
                        .with_param(param));
                }
            }
        }
    }

    let stream = match top.stream {
        None => false,
        Some(v) if v.is_null() => false,
        Some(v) => v.as_bool().ok_or_else(|| {
            ApiError::invalid_request("invalid_type", "`stream` must be a boolean.")
                .with_param("stream")
        })?,
    };
    let include_usage = match top.stream_options {
        None => false,
        Some(v) if v.is_null() => false,
        Some(v) => {
            let o = v.as_object().ok_or_else(|| {
                ApiError::invalid_request("invalid_type", "`stream_options` must be an object.")
                    .with_param("stream_options")
            })?;
            match crate::canonical::tape::field(&o, "include_usage") {
                None => false,
                Some(u) => u.as_bool().ok_or_else(|| {
                    ApiError::invalid_request(
                        "invalid_type",
                        "`stream_options.include_usage` must be a boolean.",
                    )
                    .with_param("stream_options.include_usage")
                })?,
            }
        }
    };

    let whole = |v: Option<simd_json::tape::Value<'_, '_>>| {
        v.and_then(|v| v.as_u64())
            .and_then(|n| u32::try_from(n).ok())
    };
    Ok(ChatEnvelope {
        model,
        stream,
        include_usage,
        model_span,
        tags: metadata_tags(top.metadata),
        max_tokens: whole(top.max_completion_tokens).or_else(|| whole(top.max_tokens)),
        end_user: top.user.and_then(|v| v.as_str().and_then(end_user_id)),
    })
}

/// The body with the top-level `model` replaced, everything else byte for byte.
pub fn rewrite_model(body: &[u8], env: &ChatEnvelope, model: &str) -> Option<Vec<u8>> {
    Some(splice_string(body, env.model_span.clone()?, model))
}

/// The body with the value at `span` replaced by `value` as a JSON string.
pub fn splice_string(body: &[u8], span: Range<usize>, value: &str) -> Vec<u8> {
    let mut quoted = String::with_capacity(value.len() + 2);
    super::error::push_json_str(&mut quoted, value);
    let mut out = Vec::with_capacity(body.len() + quoted.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(quoted.as_bytes());
    out.extend_from_slice(&body[span.end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect_str(s: &str) -> Result<ChatEnvelope, ApiError> {
        inspect(s.as_bytes())
    }

    #[test]
    fn finds_model_and_rewrites_only_it() {
        let body = br#"{"messages":[{"role":"user","content":"{\"model\":\"x\"}"}], "model" : "a" ,"n":{"model":"b"}}"#;
        let env = inspect(body).unwrap();
        assert_eq!(env.model, "a");
        let out = rewrite_model(body, &env, "gpt-\"4o").unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"messages":[{"role":"user","content":"{\"model\":\"x\"}"}], "model" : "gpt-\"4o" ,"n":{"model":"b"}}"#
        );
    }

    #[test]
    fn escaped_key_falls_back() {
        let env = inspect_str(r#"{"\u006dodel":"a","messages":[{"role":"user"}]}"#).unwrap();
        assert_eq!(env.model, "a");
        assert_eq!(env.model_span, None);
    }

    #[test]
    fn rejects_with_param() {
        let cases = [
            ("", "missing_body", None),
            ("{", "invalid_json", None),
            ("[]", "invalid_type", None),
            (
                r#"{"messages":[]}"#,
                "missing_required_parameter",
                Some("model"),
            ),
            (
                r#"{"model":5,"messages":[]}"#,
                "invalid_type",
                Some("model"),
            ),
            (
                r#"{"model":"m"}"#,
                "missing_required_parameter",
                Some("messages"),
            ),
            (
                r#"{"model":"m","messages":{}}"#,
                "invalid_type",
                Some("messages"),
            ),
            (
                r#"{"model":"m","messages":[]}"#,
                "invalid_value",
                Some("messages"),
            ),
            (
                r#"{"model":"m","messages":[1]}"#,
                "invalid_type",
                Some("messages[0]"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#,
                "invalid_type",
                Some("stream"),
            ),
        ];
        for (body, code, param) in cases {
            let e = inspect_str(body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.code.as_deref(), Some(code), "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
    }

    #[test]
    fn stream_flags() {
        let env = inspect_str(
            r#"{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert!(env.stream && env.include_usage);
    }
}
