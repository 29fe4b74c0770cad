//! HTTP/1.1 pieces shared by the server and the upstream client: chunked
//! decoding, owned-buffer reads that append, and small header helpers.

pub mod chunked;
pub mod io;

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use io::read_append;

/// Case-insensitive ASCII comparison for header names and tokens, eight
/// bytes at a time: names are compared on every header look-up, and the
/// byte-by-byte compare was most of a look-up's cost.
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        w[..s.len()].copy_from_slice(s);
        u64::from_le_bytes(w)
    };
    let same = |x: u64, y: u64| x == y || lower8(x) == lower8(y);
    let (mut a, mut b) = (a, b);
    while a.len() >= 8 {
        let (x, rest_a) = a.split_at(8);
        let (y, rest_b) = b.split_at(8);
        if !same(word(x), word(y)) {
            return false;
        }
        (a, b) = (rest_a, rest_b);
    }
    same(word(a), word(b))
}

/// Eight bytes with their ASCII capitals lowered (other bytes unchanged).
#[inline]
fn lower8(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    // Each byte's high bit: its low seven bits are >= b'A', are > b'Z'
    // (no carry crosses a byte: 0x7f + 0x3f < 0x100).
    let at_least_a = low7 + 0x3f3f_3f3f_3f3f_3f3f;
    let past_z = low7 + 0x2525_2525_2525_2525;
    let capital = at_least_a & !past_z & !x & HIGH;
    x | (capital >> 2)
}

/// Whether a comma-separated header value (e.g. `Connection`) names `token`.
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|part| eq_ignore_case(part.trim_ascii(), token))
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

    #[test]
    fn names_compare_ignoring_ascii_case_only() {
        let all: Vec<u8> = (0u8..=255).collect();
        for &x in &all {
            for &y in &all {
                assert_eq!(
                    eq_ignore_case(&[x], &[y]),
                    x.eq_ignore_ascii_case(&y),
                    "{x:#x} {y:#x}"
                );
            }
        }
        for (a, b, same) in [
            ("Authorization", "authorization", true),
            ("X-Tollgate-Region", "x-tollgate-region", true),
            ("x-tollgate-regioN", "x-tollgate-region", true),
            ("x-tollgate-regiom", "x-tollgate-region", false),
            ("x-api-key", "x-api-kez", false),
            ("content-length", "content-lengt", false),
            ("", "", true),
            ("X^Y", "x~y", false),
        ] {
            assert_eq!(eq_ignore_case(a.as_bytes(), b.as_bytes()), same, "{a} {b}");
        }
    }
}
