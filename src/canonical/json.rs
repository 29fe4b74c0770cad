//! Hand-written JSON output helpers for the hot path: string escaping and
//! scalar writing straight into a reusable `Vec<u8>`, no intermediate values.

use simd_json::OwnedValue;
use simd_json::prelude::Writable;

/// Appends `s` as a JSON string literal (with quotes).
///
/// Clean runs are skipped 32 bytes at a time (a fixed-size loop the compiler
/// turns into vector compares), then eight at a time, and copied in one go;
/// only `"`, `\\` and control characters are escaped, so UTF-8 passes
/// through untouched.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    loop {
        while let Some(block) = bytes.get(i..i + BLOCK)
            && is_clean_block(block)
        {
            i += BLOCK;
        }
        while let Some(word) = bytes.get(i..i + 8)
            && !needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default()))
        {
            i += 8;
        }
        if i == bytes.len() {
            break;
        }
        if bytes.len() - i < 8 && !needs_escape(last_word(bytes)) {
            break;
        }
        // A special byte is within the next eight (or this is the tail).
        let stop = (i + 8).min(bytes.len());
        while i < stop {
            let b = bytes[i];
            i += 1;
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => {
                    out.extend_from_slice(&bytes[start..i - 1]);
                    write_unicode_escape(out, b);
                    start = i;
                    continue;
                }
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i - 1]);
            out.extend_from_slice(escape);
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

const BLOCK: usize = 32;

/// The last eight bytes of `bytes` as a word, or all of a shorter string
/// padded with spaces. Built from loads of the string itself: copying into a
/// padded stack buffer and reading that back stalls on store forwarding,
/// which made short strings (keys, roles) cost twice as much. A clean word
/// means the tail is clean; bytes before the tail may be in it too.
fn last_word(b: &[u8]) -> u64 {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let n = b.len();
    let u32_at = |i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    match n {
        0 => SPACES,
        1 => (SPACES << 8) | u64::from(b[0]),
        2 | 3 => (SPACES << 32) | (u16_at(n - 2) << 16) | u16_at(0),
        4..=7 => (u32_at(n - 4) << 32) | u32_at(0),
        _ => u64::from_le_bytes(b[n - 8..].try_into().unwrap_or_default()),
    }
}

/// No byte of the block needs escaping. Branch-free over a fixed length, so
/// it compiles to a few vector compares.
fn is_clean_block(block: &[u8]) -> bool {
    let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
        return false;
    };
    let dirty = block.iter().fold(0u8, |acc, &b| {
        acc | u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\')
    });
    dirty == 0
}

/// Whether any of the eight bytes in `word` is a control character, `"` or
/// `\\` (the classic "has a byte less than n" bit trick; exact, no false
/// negatives or positives for the word as a whole).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH;
    let control = below(word, 0x20);
    let quote = below(word ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
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

/// Writes `n` in decimal, two digits per division (a ledger row has nine
/// numbers, a response head several).
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Writes a float in simd-json's format (shortest round-trip), so a number
/// reads the same as when a parsed value is written back; non-finite values
/// (which JSON cannot carry) become `null`.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    write_value(out, &OwnedValue::from(f));
}

/// Writes `[a,b,…]`, each item by `write`.
pub fn write_list<T>(out: &mut Vec<u8>, items: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

/// Writes a parsed JSON value back out (tool schemas pass through this way).
pub fn write_value(out: &mut Vec<u8>, v: &OwnedValue) {
    // Writing into a Vec cannot fail.
    let _ = v.write(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_as_rust_writes_them() {
        let mut cases = vec![
            0,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            12_345,
            u64::MAX,
            u64::MAX - 1,
        ];
        cases.extend((0..20).map(|p| 10u64.pow(p)));
        cases.extend((1..20).map(|p| 10u64.pow(p) - 1));
        for n in cases {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        let mut out = Vec::new();
        write_i64(&mut out, i64::MIN);
        assert_eq!(out, i64::MIN.to_string().into_bytes());
    }

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

    /// Byte-at-a-time escaping, the obvious way.
    fn reference(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn word_at_a_time_scan_matches_the_obvious_escaping() {
        let palette: Vec<char> = (0u8..0x20)
            .map(char::from)
            .chain([
                '"', '\\', ' ', 'a', '~', '\u{7f}', 'é', '☃', '🦀', '!', '#', '[', ']',
            ])
            .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 100) as usize;
            let s: String = (0..len)
                .map(|k| palette[((state >> (k % 48)) as usize + k * 7) % palette.len()])
                .collect();
            assert_eq!(esc(&s), reference(&s), "{s:?}");
        }
        // One special character at every offset of long clean runs.
        for special in &palette {
            for before in 0..70 {
                for after in [0, 1, 7, 8, 9, 17, 31, 32, 33, 40] {
                    let s = format!(
                        "{}{special}{}",
                        "é".repeat(before % 3) + &"x".repeat(before),
                        "y".repeat(after)
                    );
                    assert_eq!(esc(&s), reference(&s), "{s:?}");
                }
            }
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
