//! The Streamable HTTP request headers that mirror body fields
//! (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `Mcp-Param-{Name}`),
//! their value encoding (plain visible ASCII as it is, anything else as
//! `=?base64?…?=`), and the check that they agree with the body.

mod params;

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use params::{HeaderParam, ParamKind, check_param_headers, header_params, param_headers};

use super::message::{Kind, Message, Params};

pub const PROTOCOL_VERSION: &str = "MCP-Protocol-Version";
pub const METHOD: &str = "Mcp-Method";
pub const NAME: &str = "Mcp-Name";
pub const PARAM_PREFIX: &str = "Mcp-Param-";

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

/// The body member `Mcp-Name` mirrors for `method`, when it has one.
pub fn name_source(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Checks a modern (2026-07-28) POST's headers against its body: the
/// version header equals `_meta`'s protocol version, `Mcp-Method` the
/// method, `Mcp-Name` (decoded) the name or URI of the methods that carry
/// one. A request must carry each; a notification's are checked when
/// present. `header` answers by name case-insensitively, the names spelled
/// as [`PROTOCOL_VERSION`], [`METHOD`], [`NAME`]; a header repeated in the
/// request is the caller's to refuse. The error is the -32020 message,
/// quoting only names, methods and versions (cut to 64 characters).
pub fn check_modern<'h>(
    header: impl Fn(&str) -> Option<&'h [u8]>,
    msg: &Message<'_>,
    params: Option<&Params<'_>>,
) -> Result<(), String> {
    let required = msg.kind == Kind::Request;
    let version = params.and_then(|p| p.protocol_version.as_deref());
    compare(&header, PROTOCOL_VERSION, version, required, plain)?;
    compare(&header, METHOD, msg.method.as_deref(), required, plain)?;
    let Some(source) = msg.method.as_deref().and_then(name_source) else {
        return Ok(());
    };
    let body = params.and_then(|p| match source {
        "uri" => p.uri.as_deref(),
        _ => p.name.as_deref(),
    });
    compare(&header, NAME, body, required, decode_value)
}

/// One header against its body value, read by `decode`.
fn compare<'h>(
    header: &impl Fn(&str) -> Option<&'h [u8]>,
    name: &str,
    body: Option<&str>,
    required: bool,
    decode: fn(&[u8]) -> Option<Cow<'_, str>>,
) -> Result<(), String> {
    let Some(raw) = header(name) else {
        return match required {
            true => Err(format!("Header mismatch: the {name} header is missing")),
            false => Ok(()),
        };
    };
    let value = decode(raw)
        .ok_or_else(|| format!("Header mismatch: the {name} header holds invalid characters"))?;
    match body {
        Some(body) if body == value => Ok(()),
        Some(body) => Err(format!(
            "Header mismatch: {name} header value '{}' does not match body value '{}'",
            quoted(&value),
            quoted(body)
        )),
        None => Err(format!(
            "Header mismatch: {name} header value '{}' has no body value to match",
            quoted(&value)
        )),
    }
}

/// A header value that may not use the Base64 sentinel: as it is, when its
/// characters are a header value's.
fn plain(raw: &[u8]) -> Option<Cow<'_, str>> {
    raw.iter()
        .all(|&b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))
        .then(|| std::str::from_utf8(raw).ok().map(Cow::Borrowed))
        .flatten()
}

/// `s` cut to 64 characters, control characters and quotes escaped, for
/// an error message.
pub(super) fn quoted(s: &str) -> String {
    s.chars().take(64).flat_map(char::escape_debug).collect()
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

    const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    const OK: &[(&str, &str)] = &[
        ("mcp-protocol-version", "2026-07-28"),
        ("MCP-METHOD", "tools/call"),
        ("mcp-name", "get_weather"),
    ];

    fn check(body: &str, headers: &[(&str, &str)]) -> Result<(), String> {
        let msg = crate::mcp::wire::message::parse(body.as_bytes()).unwrap();
        let params = msg
            .params
            .clone()
            .map(|p| crate::mcp::wire::message::params(body.as_bytes(), p).unwrap());
        let header = |name: &str| {
            headers
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes())
        };
        check_modern(header, &msg, params.as_ref())
    }

    fn with(name: &str, value: Option<&str>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = OK
            .iter()
            .filter(|(h, _)| !h.eq_ignore_ascii_case(name))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        if let Some(v) = value {
            out.push((name.to_owned(), v.to_owned()));
        }
        out
    }

    #[test]
    fn headers_matching_the_body_pass() {
        assert_eq!(check(CALL, OK), Ok(()));
        let encoded = CALL.replace("get_weather", "天気");
        let header = [OK[0], OK[1], ("Mcp-Name", "=?base64?5aSp5rCX?=")];
        assert_eq!(check(&encoded, &header), Ok(()));
        let read = r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///a.json","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        let header = [
            OK[0],
            ("Mcp-Method", "resources/read"),
            ("Mcp-Name", "file:///a.json"),
        ];
        assert_eq!(check(read, &header), Ok(()));
        let list = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        assert_eq!(check(list, &[OK[0], ("Mcp-Method", "tools/list")]), Ok(()));
        let note = r#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#;
        assert_eq!(check(note, &[]), Ok(()));
    }

    #[test]
    fn missing_mismatched_or_invalid_headers_fail() {
        for (name, value, want) in [
            (
                PROTOCOL_VERSION,
                None,
                "the MCP-Protocol-Version header is missing",
            ),
            (
                PROTOCOL_VERSION,
                Some("2025-11-25"),
                "MCP-Protocol-Version header value '2025-11-25' does not match body value '2026-07-28'",
            ),
            (
                PROTOCOL_VERSION,
                Some("2026-07-28\u{7f}"),
                "the MCP-Protocol-Version header holds invalid characters",
            ),
            (METHOD, None, "the Mcp-Method header is missing"),
            (
                METHOD,
                Some("tools/list"),
                "Mcp-Method header value 'tools/list' does not match body value 'tools/call'",
            ),
            (NAME, None, "the Mcp-Name header is missing"),
            (
                NAME,
                Some("foo"),
                "Mcp-Name header value 'foo' does not match body value 'get_weather'",
            ),
            (
                NAME,
                Some("=?base64?!!?="),
                "the Mcp-Name header holds invalid characters",
            ),
            (NAME, Some("=?base64?Z2V0X3dlYXRoZXI=?="), ""),
        ] {
            let headers = with(name, value);
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(h, v)| (h.as_str(), v.as_str()))
                .collect();
            let got = check(CALL, &headers);
            match want {
                "" => assert_eq!(got, Ok(())),
                want => assert_eq!(got, Err(format!("Header mismatch: {want}"))),
            }
        }
    }

    #[test]
    fn quoted_names_are_cut_and_escaped() {
        let long = "n".repeat(100);
        let body = CALL.replace("get_weather", &long);
        let err = check(&body, OK).unwrap_err();
        assert!(err.ends_with(&format!("'{}'", "n".repeat(64))), "{err}");
        let body = CALL.replace("get_weather", "a\\nb");
        let err = check(&body, OK).unwrap_err();
        assert!(err.contains("'a\\nb'"), "{err}");
        let note = r#"{"jsonrpc":"2.0","method":"notifications/x"}"#;
        assert!(check(note, &[("Mcp-Method", "notifications/y")]).is_err());
    }
}
