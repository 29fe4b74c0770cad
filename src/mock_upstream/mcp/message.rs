//! One JSON-RPC message as the mock reads it: spans into the body, never a
//! copy, so `echo` can hand back its `arguments` byte for byte and a request
//! costs no allocation to read. The body is validated whole by simd-json
//! first; the spans come from `canonical::json_scan` over the raw bytes, the
//! members of `params` and of `params._meta` the mock reads found in one
//! pass over each.

use crate::canonical::json_scan::find_top_level_values;
use crate::canonical::tape::with_tape;
use std::borrow::Cow;

/// The members of `params` the mock reads.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    Name,
    Uri,
    Arguments,
    Cursor,
    /// `initialize`'s.
    ProtocolVersion,
    /// `subscriptions/listen`'s filter.
    Notifications,
}

const PARAM_KEYS: [&[u8]; 7] = [
    b"name",
    b"uri",
    b"arguments",
    b"cursor",
    b"protocolVersion",
    b"notifications",
    b"_meta",
];
const META_INDEX: usize = 6;

/// The members of `params._meta` the mock reads.
#[derive(Debug, Clone, Copy)]
pub enum Meta {
    ProgressToken,
    ProtocolVersion,
    ClientCapabilities,
}

const META_KEYS: [&[u8]; 3] = [
    b"progressToken",
    b"io.modelcontextprotocol/protocolVersion",
    b"io.modelcontextprotocol/clientCapabilities",
];

/// What a POST body carries, by JSON-RPC's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    /// A client's answer to a server request (legacy era only).
    Response,
}

/// Why a body is not a message the mock can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not JSON at all (-32700).
    Parse,
    /// JSON, but not one JSON-RPC 2.0 request, notification or response (-32600).
    Invalid,
}

/// A parsed message: raw spans of the members the mock reads.
#[derive(Debug, Clone)]
pub struct Message<'b> {
    pub kind: Kind,
    /// The raw `id` (a string or a number), written back as received.
    pub id: &'b [u8],
    pub method: Cow<'b, str>,
    params: [Option<&'b [u8]>; 7],
    meta: [Option<&'b [u8]>; 3],
}

impl<'b> Message<'b> {
    pub fn parse(body: &'b [u8]) -> Result<Self, Malformed> {
        if !with_tape(body, |tape, _| tape.is_ok()) {
            return Err(Malformed::Parse);
        }
        let [jsonrpc, id, method, params, result, error] = find_top_level_values(
            body,
            [b"jsonrpc", b"id", b"method", b"params", b"result", b"error"],
        )
        .ok_or(Malformed::Invalid)?;
        let slice = |r: &Option<std::ops::Range<usize>>| r.clone().map(|r| &body[r]);
        if slice(&jsonrpc) != Some(&b"\"2.0\""[..]) {
            return Err(Malformed::Invalid);
        }
        let id = match slice(&id) {
            Some(v) if !is_id(v) => return Err(Malformed::Invalid),
            id => id,
        };
        let method = slice(&method).map(json_str);
        let kind = match (&method, id, result.is_some() || error.is_some()) {
            (Some(Some(_)), Some(_), false) => Kind::Request,
            (Some(Some(_)), None, false) => Kind::Notification,
            (None, Some(_), true) => Kind::Response,
            _ => return Err(Malformed::Invalid),
        };
        let params = match slice(&params) {
            Some(p) if !is_object(p) => return Err(Malformed::Invalid),
            Some(p) => fields(p, PARAM_KEYS),
            None => [None; 7],
        };
        let meta = match params[META_INDEX] {
            Some(m) if is_object(m) => fields(m, META_KEYS),
            _ => [None; 3],
        };
        Ok(Message {
            kind,
            id: id.unwrap_or(b"null"),
            method: method.flatten().unwrap_or(Cow::Borrowed("")),
            params,
            meta,
        })
    }

    /// The raw value of a member of `params`.
    pub fn param(&self, which: Param) -> Option<&'b [u8]> {
        self.params[which as usize]
    }

    /// A member of `params`, when it is a string.
    pub fn param_str(&self, which: Param) -> Option<Cow<'b, str>> {
        self.param(which).and_then(json_str)
    }

    /// The raw value of a member of `params._meta`.
    pub fn meta(&self, which: Meta) -> Option<&'b [u8]> {
        self.meta[which as usize]
    }

    /// Whether `params._meta` is an object.
    pub fn has_meta_object(&self) -> bool {
        self.params[META_INDEX].is_some_and(is_object)
    }
}

/// The raw values of `keys` in the raw object `object`, in one pass. A key
/// repeated in it has none: parsers disagree on which copy wins.
fn fields<'a, const N: usize>(object: &'a [u8], keys: [&[u8]; N]) -> [Option<&'a [u8]>; N] {
    find_top_level_values(object, keys)
        .map_or([None; N], |found| found.map(|r| r.map(|r| &object[r])))
}

/// The raw value of `key` in the raw object `object` (a tool's arguments).
pub fn field<'a>(object: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let [found] = fields(object, [key]);
    found
}

/// The value of a raw JSON string, unescaped only when it has escapes.
pub fn json_str(raw: &[u8]) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    let mut copy = raw.to_vec();
    simd_json::from_slice::<String>(&mut copy)
        .ok()
        .map(Cow::Owned)
}

/// A non-negative integer, as JSON writes one (`3`, not `3.0` or `"3"`).
pub fn json_u64(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// Any JSON number.
pub fn json_f64(raw: &[u8]) -> Option<f64> {
    if !raw
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
    {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

pub fn is_object(raw: &[u8]) -> bool {
    raw.first() == Some(&b'{')
}

/// A JSON-RPC id: a string or a number (never null, since 2025-03-26).
fn is_id(raw: &[u8]) -> bool {
    matches!(raw.first(), Some(b'"' | b'-' | b'0'..=b'9'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_spans() {
        let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments": { "b" : [1, 2] },"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        let m = Message::parse(body).unwrap();
        assert_eq!(m.kind, Kind::Request);
        assert_eq!(m.id, b"7");
        assert_eq!(m.method, "tools/call");
        assert_eq!(m.param_str(Param::Name).as_deref(), Some("echo"));
        assert_eq!(m.param(Param::Arguments), Some(&br#"{ "b" : [1, 2] }"#[..]));
        assert_eq!(m.param(Param::Uri), None);
        assert_eq!(m.meta(Meta::ProgressToken), Some(&br#""p1""#[..]));
        assert_eq!(m.meta(Meta::ProtocolVersion), Some(&br#""2026-07-28""#[..]));
        assert!(m.has_meta_object());
        assert_eq!(m.meta(Meta::ClientCapabilities), None);
        let repeated = br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a","name":"b"}}"#;
        assert_eq!(Message::parse(repeated).unwrap().param(Param::Name), None);
    }

    #[test]
    fn notifications_and_responses() {
        let n =
            Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(n.kind, Kind::Notification);
        let r = Message::parse(br#"{"jsonrpc":"2.0","id":"s1","result":{}}"#).unwrap();
        assert_eq!(r.kind, Kind::Response);
        assert_eq!(r.id, br#""s1""#);
    }

    #[test]
    fn malformed_bodies() {
        let cases: &[(&[u8], Malformed)] = &[
            (b"{", Malformed::Parse),
            (b"", Malformed::Parse),
            (
                br#"[{"jsonrpc":"2.0","id":1,"method":"x"}]"#,
                Malformed::Invalid,
            ),
            (br#"{"id":1,"method":"x"}"#, Malformed::Invalid),
            (
                br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
                Malformed::Invalid,
            ),
            (
                br#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
                Malformed::Invalid,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":3}"#,
                Malformed::Invalid,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
                Malformed::Invalid,
            ),
            (br#"{"jsonrpc":"2.0"}"#, Malformed::Invalid),
            (br#""just a string""#, Malformed::Invalid),
        ];
        for (body, want) in cases {
            let got = Message::parse(body).map(|m| m.kind);
            assert_eq!(got, Err(*want), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn strings_unescape_only_when_escaped() {
        assert!(matches!(
            json_str(br#""plain""#),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(json_str(br#""a\"b\u00e9""#).as_deref(), Some("a\"bé"));
        assert_eq!(json_str(b"12"), None);
        assert_eq!(json_u64(b"12"), Some(12));
        assert_eq!(json_u64(b"1.5"), None);
        assert_eq!(json_f64(b"-1.5e2"), Some(-150.0));
        assert_eq!(json_f64(b"\"1\""), None);
        assert_eq!(json_f64(b"NaN"), None);
    }
}
