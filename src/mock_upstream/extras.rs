//! Provider-specific parts of an answer that a sanitizing gateway should
//! strip, sent when a request carries `x-mock-provider-extras: 1`: OpenAI's
//! fingerprint and service tier, and the organization and request ids
//! OpenAI and Anthropic send as response headers.

use super::formats::Format;
use crate::server::Request;

type Header = (&'static str, &'static [u8]);

const OPENAI_HEADERS: &[Header] = &[
    ("openai-organization", b"org-mock"),
    ("x-request-id", b"req_mock_upstream"),
    ("openai-processing-ms", b"7"),
];

const ANTHROPIC_HEADERS: &[Header] = &[
    ("anthropic-organization-id", b"org-mock"),
    ("request-id", b"req_mock_upstream"),
];

/// Whether this request asked for the extras.
pub fn requested(req: &Request) -> bool {
    req.header("x-mock-provider-extras")
        .is_some_and(|v| v.trim_ascii() == b"1")
}

/// The response headers of a successful answer (none unless asked).
pub fn headers(format: Format, on: bool) -> &'static [Header] {
    match format {
        _ if !on => &[],
        Format::OpenAi => OPENAI_HEADERS,
        Format::Anthropic => ANTHROPIC_HEADERS,
        Format::Gemini { .. } => &[],
    }
}

/// The members that close a whole OpenAI answer, after its usage.
pub fn openai_body_tail(on: bool) -> &'static str {
    if on {
        ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\""
    } else {
        ",\"system_fingerprint\":null"
    }
}

/// The members that close each OpenAI stream chunk (OpenAI repeats them in every chunk).
pub fn openai_chunk_tail(on: bool) -> &'static str {
    if on {
        ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\""
    } else {
        ""
    }
}
