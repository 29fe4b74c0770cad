//! The Streamable HTTP request headers that mirror body fields
//! (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-{Name}`), and their value encoding:
//! plain visible ASCII as it is, anything else as `=?base64?…?=`.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// A header value for `value`: as it is when it is plain visible ASCII (or
/// inner spaces) without leading or trailing whitespace and does not look
/// like the sentinel; otherwise Base64 of its UTF-8 inside the sentinel.
pub fn encode_value(value: &str) -> Cow<'_, str> {
    let sentinel_like = value.starts_with(SENTINEL_START) && value.ends_with(SENTINEL_END);
    let plain = value
        .bytes()
        .all(|b| b == b' ' || (0x21..=0x7e).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !sentinel_like;
    if plain {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(format!(
            "{SENTINEL_START}{}{SENTINEL_END}",
            STANDARD.encode(value)
        ))
    }
}

/// The value a header carries, decoded from the sentinel form when it is in
/// it. `None` for characters a header value may not hold, or a sentinel
/// whose Base64 or UTF-8 is broken.
pub fn decode_value(raw: &[u8]) -> Option<Cow<'_, str>> {
    if !raw
        .iter()
        .all(|&b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))
    {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    match text
        .strip_prefix(SENTINEL_START)
        .and_then(|r| r.strip_suffix(SENTINEL_END))
    {
        Some(b64) => {
            let bytes = STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok().map(Cow::Owned)
        }
        None => Some(Cow::Borrowed(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_encode_as_the_specification_table_shows() {
        for (value, header) in [
            ("us-west1", "us-west1"),
            ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
            (" padded ", "=?base64?IHBhZGRlZCA=?="),
            ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
            ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        ] {
            assert_eq!(encode_value(value), header, "{value:?}");
            assert_eq!(decode_value(header.as_bytes()).as_deref(), Some(value));
        }
    }

    #[test]
    fn broken_values_do_not_decode() {
        assert_eq!(decode_value(b"a\x01b"), None);
        assert_eq!(decode_value("é".as_bytes()), None);
        assert_eq!(decode_value(b"=?base64?!!!?="), None);
        assert_eq!(decode_value(b"=?base64?/w==?="), None);
    }
}
