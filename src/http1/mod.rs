//! HTTP/1.1 pieces shared by the server and the upstream client: chunked
//! decoding, owned-buffer reads that append, and small header helpers.

pub mod chunked;
pub mod io;

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use io::read_append;

/// Case-insensitive ASCII comparison for header names and tokens, eight
/// bytes at a time: names are compared on every header look-up, and the
/// byte-by-byte compare was most of a look-up's cost. The last word is
/// read ending at the end (it may overlap the one before; equal bytes
/// compare equal twice), and a name shorter than eight bytes as two
/// overlapping halves, so no length-dependent copy (a `memcpy` call) is
/// made.
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let same = |x: u64, y: u64| x == y || lower8(x) == lower8(y);
    if n < 8 {
        return same(short_word(a), short_word(b));
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map_or(0, |w| u64::from_le_bytes(*w))
    };
    let mut at = 0;
    while at + 8 < n {
        if !same(word(a, at), word(b, at)) {
            return false;
        }
        at += 8;
    }
    same(word(a, n - 8), word(b, n - 8))
}

/// The bytes of `s` (fewer than eight) as one word, each at its place:
/// its first and last four (or two, or one) bytes, overlapping; a byte
/// read twice lands at its one place both times.
#[inline]
fn short_word(s: &[u8]) -> u64 {
    let n = s.len();
    let ends = |first: Option<u64>, last: Option<u64>, width: usize| {
        Some(first? | last? << (8 * (n - width)))
    };
    let four = |w: &[u8; 4]| u64::from(u32::from_le_bytes(*w));
    let two = |w: &[u8; 2]| u64::from(u16::from_le_bytes(*w));
    ends(s.first_chunk().map(four), s.last_chunk().map(four), 4)
        .or_else(|| ends(s.first_chunk().map(two), s.last_chunk().map(two), 2))
        .unwrap_or_else(|| s.first().map_or(0, |&b| u64::from(b)))
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

    #[test]
    fn every_length_and_every_place_of_a_difference_is_seen() {
        // Lengths around the word edges: the short halves, the last
        // overlapping word, several whole words.
        for n in 0..=26 {
            let a: Vec<u8> = (0..n).map(|i| b"Content-Type-X-Tollgate-Ab"[i]).collect();
            assert!(eq_ignore_case(&a, &a.to_ascii_lowercase()), "{n}");
            assert!(eq_ignore_case(&a.to_ascii_uppercase(), &a), "{n}");
            for at in 0..n {
                for b in [b'#', b'~', 0, 0x80, 0xff, a[at] ^ 0x20, a[at] ^ 1] {
                    let mut other = a.clone();
                    other[at] = b;
                    assert_eq!(
                        eq_ignore_case(&a, &other),
                        a.eq_ignore_ascii_case(&other),
                        "{n} {at} {b:#x}"
                    );
                }
            }
        }
    }
}
