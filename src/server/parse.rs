//! The request head as RFC 9112 has it: parse, bound, and decide the body's
//! framing. Pure and synchronous, so the fuzzers drive exactly what the
//! connection loop runs.

use super::{Limits, Request};
use crate::api::ApiError;
use crate::http1::parse_content_length;

/// How the request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(usize),
    Chunked,
}

pub(super) fn reject(status: u16, code: &'static str, message: &str) -> ApiError {
    let kind = if status == 408 {
        "timeout_error"
    } else {
        "invalid_request_error"
    };
    ApiError::coded(status, kind, code, message)
}

/// Parses the head at the start of `buf`. `Ok(None)` means more bytes are
/// needed; `Ok(Some((head_len, request, framing)))` a complete, valid head.
pub fn parse_request_head(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(usize, Request, Framing)>, ApiError> {
    // The common limit fits on the stack; only a larger configured one allocates.
    let mut on_stack = [httparse::EMPTY_HEADER; 64];
    let mut on_heap = Vec::new();
    let headers: &mut [httparse::Header<'_>] = if limits.max_headers <= on_stack.len() {
        &mut on_stack[..limits.max_headers]
    } else {
        on_heap.resize(limits.max_headers, httparse::EMPTY_HEADER);
        &mut on_heap
    };
    let mut parsed = httparse::Request::new(headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n > limits.max_header_bytes => {
            return Err(headers_too_large());
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > limits.max_header_bytes => {
            return Err(headers_too_large());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(reject(431, "too_many_headers", "Too many request headers."));
        }
        Err(e) => {
            return Err(reject(
                400,
                "malformed_request",
                &format!("Malformed HTTP request: {e}."),
            ));
        }
    };
    let req = Request::from_parsed(buf, head_len, &parsed);
    let framing = framing(&req, limits)?;
    Ok(Some((head_len, req, framing)))
}

fn headers_too_large() -> ApiError {
    reject(431, "headers_too_large", "Request headers are too large.")
}

/// Host and body framing (RFC 9112 §3.2, §6): anything ambiguous is a 400,
/// because a proxy that guesses is a proxy that can be smuggled through.
fn framing(req: &Request, limits: &Limits) -> Result<Framing, ApiError> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut hosts = 0usize;
    for (name, value) in req.headers() {
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value).ok_or_else(|| {
                reject(400, "bad_content_length", "Invalid Content-Length header.")
            })?;
            if length.is_some_and(|l| l != n) {
                return Err(reject(
                    400,
                    "bad_content_length",
                    "Conflicting Content-Length headers.",
                ));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // HTTP/1.0 has no transfer codings (RFC 9112 §6.1): a framing
            // an HTTP/1.0 hop would read differently.
            if !req.http11 {
                return Err(reject(
                    400,
                    "bad_transfer_encoding",
                    "Transfer-Encoding is not allowed on an HTTP/1.0 request.",
                ));
            }
            // Only a lone `chunked` is accepted: anything else is a smuggling vector.
            if chunked || !value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(reject(
                    400,
                    "bad_transfer_encoding",
                    "Unsupported Transfer-Encoding.",
                ));
            }
            chunked = true;
        }
    }
    match hosts {
        0 if req.http11 => {
            return Err(reject(
                400,
                "missing_host",
                "An HTTP/1.1 request needs a Host header.",
            ));
        }
        n if n > 1 => {
            return Err(reject(400, "duplicate_host", "More than one Host header."));
        }
        _ => {}
    }
    match (chunked, length) {
        (true, Some(_)) => Err(reject(
            400,
            "bad_framing",
            "Content-Length and Transfer-Encoding together are not allowed.",
        )),
        (true, None) => Ok(Framing::Chunked),
        (false, Some(n)) if n > limits.max_body_bytes as u64 => {
            Err(too_large(limits.max_body_bytes))
        }
        (false, Some(0)) | (false, None) => Ok(Framing::None),
        (false, Some(n)) => Ok(Framing::Length(n as usize)),
    }
}

pub(super) fn too_large(max: usize) -> ApiError {
    ApiError::coded(
        413,
        "invalid_request_error",
        "request_too_large",
        format!("Request body exceeds the limit of {max} bytes."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            max_header_bytes: 8192,
            max_headers: 64,
            max_body_bytes: 1 << 20,
            max_connections: 16,
            max_body_memory_bytes: 1 << 24,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        }
    }

    fn code(input: &[u8]) -> String {
        let err = parse_request_head(input, &limits()).err().expect("refused");
        String::from_utf8(err.to_json()).unwrap()
    }

    #[test]
    fn complete_head_with_length() {
        let input = b"POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        let (n, req, framing) = parse_request_head(input, &limits()).unwrap().unwrap();
        assert_eq!(&input[n..], b"hello");
        assert_eq!(req.path(), "/v1/x");
        assert_eq!(framing, Framing::Length(5));
    }

    #[test]
    fn partial_head_needs_more() {
        let input = b"GET / HTTP/1.1\r\nHost: a\r\n";
        assert!(parse_request_head(input, &limits()).unwrap().is_none());
    }

    #[test]
    fn host_rules() {
        assert!(code(b"GET / HTTP/1.1\r\n\r\n").contains("missing_host"));
        assert!(code(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").contains("duplicate_host"));
        assert!(code(b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n").contains("duplicate_host"));
        assert!(parse_request_head(b"GET / HTTP/1.0\r\n\r\n", &limits()).is_ok());
    }

    #[test]
    fn transfer_encoding_on_http10_is_refused() {
        let input = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(code(input).contains("bad_transfer_encoding"));
    }
}
