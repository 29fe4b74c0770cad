//! Hand-written JSON output helpers for the hot path: string escaping and
//! scalar writing straight into a reusable `Vec<u8>`, no intermediate values.

use simd_json::OwnedValue;
use simd_json::prelude::Writable;

/// Appends `s` as a JSON string literal (with quotes).
///
/// Copies runs of bytes that need no escaping in one go; only `"`, `\` and
/// control characters are escaped, so UTF-8 passes through untouched.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                write_unicode_escape(out, b);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_unicode_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u00");
    out.push(HEX[(b >> 4) as usize]);
    out.push(HEX[(b & 0xf) as usize]);
}

/// Appends a string literal or `null`.
pub fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Writes a float; non-finite values (which JSON cannot carry) become `null`.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(f.to_string().as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Writes a parsed JSON value back out (tool schemas pass through this way).
pub fn write_value(out: &mut Vec<u8>, v: &OwnedValue) {
    // Writing into a Vec cannot fail.
    let _ = v.write(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(esc("plain"), "\"plain\"");
        assert_eq!(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(esc("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
        assert_eq!(esc("\u{1}\u{1f}"), "\"\\u0001\\u001f\"");
        assert_eq!(esc("héllo ☃ 🦀"), "\"héllo ☃ 🦀\"");
    }

    #[test]
    fn escaped_strings_round_trip_through_a_parser() {
        let samples = ["", "\"", "\\\\", "\u{0}\u{7f}", "x\u{2028}y", "{\"a\":1}"];
        for s in samples {
            let mut out = esc(s).into_bytes();
            let back: String = simd_json::serde::from_slice(&mut out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        write_u64(&mut out, 0);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        out.push(b' ');
        write_i64(&mut out, i64::MIN);
        out.push(b' ');
        write_f64(&mut out, 0.5);
        out.push(b' ');
        write_f64(&mut out, f64::NAN);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 18446744073709551615 -9223372036854775808 0.5 null"
        );
    }
}
