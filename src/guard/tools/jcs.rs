//! RFC 8785 JSON Canonicalization Scheme: the one byte form of a JSON value
//! that approvals and pins hash. Members sorted by their names' UTF-16 code
//! units, numbers in ECMAScript's `Number.prototype.toString` form, strings
//! with only the escapes JSON requires.

use std::cmp::Ordering;

use super::strict::{ParseError, parse_strict};
use super::value::Value;

/// The canonical form of a JSON text, parsed strictly first (a duplicate
/// name or lone surrogate has no canonical form).
pub fn canonicalize(json: &str) -> Result<String, ParseError> {
    let value = parse_strict(json)?;
    let mut out = String::with_capacity(json.len());
    write_canonical(&value, &mut out);
    Ok(out)
}

/// Appends the canonical form of `value` to `out`.
pub fn write_canonical(value: &Value<'_>, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<_> = members.iter().collect();
            sorted.sort_by(|a, b| utf16_order(&a.0, &b.0));
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// RFC 8785 §3.2.3 orders names by UTF-16 code units, which differs from
/// UTF-8 byte order only between astral characters and U+E000..U+FFFF.
fn utf16_order(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// RFC 8785 §3.2.2.2: `"` and `\` escaped, the short escapes for their five
/// control characters, `\u00xx` (lower-case) for the others, all else literal.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        run = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// ECMAScript `Number.prototype.toString` (ECMA-262 §6.1.6.1.20). The
/// digits are Ryu's shortest round-trip ones, which break ties to even as
/// ECMAScript does (Rust's `{:e}` rounds them up: `…206.3` for `…206.25`);
/// only their layout is redone.
pub fn write_number(n: f64, out: &mut String) {
    if n == 0.0 || !n.is_finite() {
        // -0 is "0"; non-finite numbers never get here (the parser refuses them).
        out.push('0');
        return;
    }
    if n < 0.0 {
        out.push('-');
    }
    let mut buffer = ryu::Buffer::new();
    let (digits, point) = decimal_digits(buffer.format_finite(n.abs()));
    push_ecmascript(&digits, point, out);
}

/// The significant digits of a decimal text (`1.5e-7`, `0.001`, `120.0`)
/// and where its decimal point falls relative to the first of them.
fn decimal_digits(text: &str) -> (String, i32) {
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut point = int.len() as i32 + exp.parse::<i32>().unwrap_or(0);
    let mut digits = String::with_capacity(mantissa.len());
    for b in int.bytes().chain(frac.bytes()) {
        if digits.is_empty() && b == b'0' {
            point -= 1;
        } else {
            digits.push(char::from(b));
        }
    }
    digits.truncate(digits.trim_end_matches('0').len());
    if digits.is_empty() {
        digits.push('0');
    }
    (digits, point)
}

/// `digits` (k of them, no leading zero) × 10^(n−k), laid out as ECMAScript does.
fn push_ecmascript(digits: &str, n: i32, out: &mut String) {
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(bits: u64) -> String {
        let mut out = String::new();
        write_number(f64::from_bits(bits), &mut out);
        out
    }

    /// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
    #[test]
    fn numbers_match_rfc_8785_appendix_b() {
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, want) in cases {
            assert_eq!(number(*bits), *want, "{bits:#018x}");
        }
    }

    /// Every finite double comes back from its canonical text unchanged.
    #[test]
    fn numbers_round_trip_across_the_whole_range() {
        let mut state = 0x9e3779b97f4a7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = f64::from_bits(state);
            if !n.is_finite() {
                continue;
            }
            let text = number(state);
            let back: f64 = text.parse().unwrap_or(f64::NAN);
            assert!(back == n, "{n:e} -> {text}");
            assert!(!text.contains('+') || text.contains("e+"), "{text}");
        }
    }

    #[test]
    fn canonicalizes_texts_as_the_rfc_examples_do() {
        let cases = [
            ("1e21", "1e+21"),
            ("0.000001", "0.000001"),
            ("1E-7", "1e-7"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("333333333.33333329", "333333333.3333333"),
            ("1E30", "1e+30"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("000", ""),
            (
                r#"{ "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                     "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                     "literals": [null, true, false] }"#,
                r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#,
            ),
            (
                "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
                "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
            ),
        ];
        for (input, want) in cases {
            match canonicalize(input) {
                Ok(got) => assert_eq!(got, want, "{input}"),
                Err(_) => assert!(want.is_empty(), "{input} refused"),
            }
        }
    }

    #[test]
    fn equal_values_have_one_form() {
        let forms = [
            r#"{"b":[1,2.0],"a":{"y":null,"x":"\u0041"}}"#,
            "{\"a\":{\"x\":\"A\",\"y\":null},\"b\":[1.0,2]}",
        ];
        let canonical: Vec<_> = forms.iter().map(|f| canonicalize(f).ok()).collect();
        assert_eq!(canonical[0], canonical[1]);
        assert_eq!(
            canonical[0].as_deref(),
            Some(r#"{"a":{"x":"A","y":null},"b":[1,2]}"#)
        );
    }
}
