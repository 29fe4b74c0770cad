//! HTTP/1.1 pieces shared by the server and the upstream client: chunked
//! decoding, owned-buffer reads that append, and small header helpers.

pub mod chunked;
pub mod io;

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use io::read_append;

/// Case-insensitive ASCII comparison for header names and tokens.
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether a comma-separated header value (e.g. `Connection`) names `token`.
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

/// Parses a Content-Length value strictly: digits only, no sign, no overflow.
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_strict() {
        assert_eq!(parse_content_length(b" 42 "), Some(42));
        assert_eq!(parse_content_length(b"+1"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"1,1"), None);
        assert_eq!(parse_content_length(b"99999999999999999999"), None);
    }

    #[test]
    fn tokens() {
        assert!(has_token(b"keep-alive, Close", b"close"));
        assert!(!has_token(b"closed", b"close"));
    }
}
