//! MCP messages as the upstream client writes and reads them: JSON-RPC
//! requests under our ids, the modern `_meta` spliced into the caller's
//! params (their bytes otherwise kept), and the few members of what comes
//! back that routing needs (`id`, `method`, a progress token).

use std::borrow::Cow;
use std::ops::Range;

use crate::canonical::json::write_str;
use crate::canonical::json_scan::{find_top_level_value, find_top_level_values, top_level_members};

/// The modern revision this client speaks.
pub const MODERN_VERSION: &str = "2026-07-28";
/// The legacy revision offered in `initialize`.
pub const LEGACY_OFFER: &str = "2025-11-25";
/// Handshake revisions a server may answer `initialize` with.
pub const LEGACY_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
const META_SUBSCRIPTION: &[u8] = b"io.modelcontextprotocol/subscriptionId";

/// Our `clientInfo` / `Implementation`.
pub const CLIENT_INFO: &str = concat!(
    "{\"name\":\"tollgate\",\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\"}"
);

/// The prefix of the progress tokens we put on a shared stdout.
const TOKEN_PREFIX: &str = "tollgate-";

/// Methods whose `params.name` or `params.uri` is mirrored in `Mcp-Name`.
pub fn names_target(method: &str) -> bool {
    matches!(method, "tools/call" | "resources/read" | "prompts/get")
}

/// `{"jsonrpc":"2.0","id":<id>,"method":<method>,"params":<params>}`;
/// empty `params` are left out.
pub fn request(id: u64, method: &str, params: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.len() + method.len() + 48);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    crate::canonical::json::write_u64(&mut out, id);
    push_method_and_params(&mut out, method, params);
    out
}

/// A notification: a request without an id.
pub fn notification(method: &str, params: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.len() + method.len() + 40);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\"");
    push_method_and_params(&mut out, method, params);
    out
}

fn push_method_and_params(out: &mut Vec<u8>, method: &str, params: &[u8]) {
    out.extend_from_slice(b",\"method\":");
    write_str(out, method);
    if !params.trim_ascii().is_empty() {
        out.extend_from_slice(b",\"params\":");
        out.extend_from_slice(params.trim_ascii());
    }
    out.push(b'}');
}

/// The params a 2026-07-28 server gets: as they are when `ready` (their
/// `_meta` already names its version, with capabilities and info), else
/// with ours spliced in.
pub fn modern_params(params: &[u8], ready: bool) -> Result<Cow<'_, [u8]>, String> {
    if ready {
        return Ok(Cow::Borrowed(params));
    }
    with_modern_meta(params).map(Cow::Owned)
}

/// `params` carrying the modern `_meta`: our protocol version always
/// (replacing the caller's), client capabilities and info where the caller
/// gave none. Every other byte of the caller's params is kept; only an
/// object with escaped keys is parsed and written anew.
pub fn with_modern_meta(params: &[u8]) -> Result<Vec<u8>, String> {
    let params = non_empty_object(params);
    match splice_meta(params) {
        Some(out) => Ok(out),
        None => rewrite_meta(params),
    }
}

fn non_empty_object(params: &[u8]) -> &[u8] {
    let trimmed = params.trim_ascii();
    if trimmed.is_empty() { b"{}" } else { trimmed }
}

fn splice_meta(params: &[u8]) -> Option<Vec<u8>> {
    let members = top_level_members(params)?;
    let meta = members
        .iter()
        .rev()
        .find(|(k, _)| &params[k.clone()] == b"\"_meta\"")
        .map(|(_, v)| &params[v.clone()]);
    let mut out = Vec::with_capacity(params.len() + 200);
    out.push(b'{');
    for (k, v) in members
        .iter()
        .filter(|(k, _)| &params[k.clone()] != b"\"_meta\"")
    {
        out.extend_from_slice(&params[k.clone()]);
        out.push(b':');
        out.extend_from_slice(&params[v.clone()]);
        out.push(b',');
    }
    out.extend_from_slice(b"\"_meta\":{");
    let (mut has_caps, mut has_info) = (false, false);
    if let Some(meta) = meta.filter(|m| m.first() == Some(&b'{')) {
        for (k, v) in top_level_members(meta)? {
            let key = &meta[k.start + 1..k.end - 1];
            if key == META_VERSION.as_bytes() {
                continue;
            }
            has_caps |= key == META_CAPABILITIES.as_bytes();
            has_info |= key == META_CLIENT_INFO.as_bytes();
            out.extend_from_slice(&meta[k]);
            out.push(b':');
            out.extend_from_slice(&meta[v]);
            out.push(b',');
        }
    }
    push_our_meta(&mut out, has_caps, has_info);
    out.extend_from_slice(b"}}");
    Some(out)
}

fn push_our_meta(out: &mut Vec<u8>, has_caps: bool, has_info: bool) {
    if !has_caps {
        write_str(out, META_CAPABILITIES);
        out.extend_from_slice(b":{},");
    }
    if !has_info {
        write_str(out, META_CLIENT_INFO);
        out.push(b':');
        out.extend_from_slice(CLIENT_INFO.as_bytes());
        out.push(b',');
    }
    write_str(out, META_VERSION);
    out.push(b':');
    write_str(out, MODERN_VERSION);
}

/// The rare params with escaped keys: parsed, edited, written whole.
fn rewrite_meta(params: &[u8]) -> Result<Vec<u8>, String> {
    use simd_json::prelude::*;
    let not_object = || "params must be a JSON object".to_string();
    let mut copy = params.to_vec();
    let mut value = simd_json::to_owned_value(&mut copy).map_err(|_| not_object())?;
    let obj = value.as_object_mut().ok_or_else(not_object)?;
    let mut meta = match obj.remove("_meta") {
        Some(simd_json::OwnedValue::Object(m)) => *m,
        _ => simd_json::owned::Object::default(),
    };
    meta.remove(META_VERSION);
    meta.insert(META_VERSION.into(), MODERN_VERSION.into());
    if !meta.contains_key(META_CAPABILITIES) {
        meta.insert(
            META_CAPABILITIES.into(),
            simd_json::owned::Object::default().into(),
        );
    }
    if !meta.contains_key(META_CLIENT_INFO) {
        let mut info = CLIENT_INFO.as_bytes().to_vec();
        let info = simd_json::to_owned_value(&mut info).map_err(|e| e.to_string())?;
        meta.insert(META_CLIENT_INFO.into(), info);
    }
    obj.insert("_meta".into(), meta.into());
    simd_json::to_vec(&value).map_err(|e| e.to_string())
}

/// `params.name` (or `params.uri`) as text, for `Mcp-Name`.
pub fn target_name(params: &[u8]) -> Option<String> {
    let params = params.trim_ascii();
    // The gateway writes `name` first, as clients do: read it there
    // without walking the rest (params with a repeated key never get
    // this far).
    if let Some(rest) = params.strip_prefix(b"{\"name\":")
        && rest.first() == Some(&b'"')
    {
        let end = crate::canonical::json_scan::skip_value(rest, 0)?;
        return json_string(&rest[..end]);
    }
    let [name, uri] = find_top_level_values(params, [b"name", b"uri"])?;
    let span = name.or(uri)?;
    json_string(&params[span])
}

/// A JSON string value's text (escapes resolved); `None` for anything else.
pub fn json_string(raw: &[u8]) -> Option<String> {
    // Most names have no escapes: their bytes between the quotes are the text.
    if let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\""))
        && !inner.iter().any(|&b| b == b'\\' || b == b'"' || b < 0x20)
    {
        return std::str::from_utf8(inner).ok().map(str::to_owned);
    }
    let mut copy = raw.to_vec();
    match simd_json::to_owned_value(&mut copy).ok()? {
        simd_json::OwnedValue::String(s) => Some(s),
        _ => None,
    }
}

/// What a line or event from the server is, by its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A response (`result` or `error`); the raw `id`, if any.
    Response(Option<Range<usize>>),
    /// A request (it has an `id`) from the server.
    Request(Range<usize>),
    /// A notification; the raw method string.
    Notification(Range<usize>),
    /// Not a JSON-RPC object.
    Other,
}

pub fn classify(msg: &[u8]) -> Incoming {
    let Some([id, method, result, error]) =
        find_top_level_values(msg, [b"id", b"method", b"result", b"error"])
    else {
        return Incoming::Other;
    };
    match (method, id) {
        (Some(_), Some(id)) => Incoming::Request(id),
        (Some(m), None) => Incoming::Notification(m),
        (None, id) if result.is_some() || error.is_some() => Incoming::Response(id),
        _ => Incoming::Other,
    }
}

/// The raw id as one of our numeric ids.
pub fn our_id(raw: &[u8]) -> Option<u64> {
    let raw = raw.trim_ascii();
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// Whether `msg` is the response to our request `id`.
pub fn answers(msg: &[u8], id: u64) -> bool {
    matches!(classify(msg), Incoming::Response(Some(r)) if our_id(&msg[r.clone()]) == Some(id))
}

/// Whether `msg` is the notification `method`.
pub fn is_notification(msg: &[u8], method: &str) -> bool {
    match classify(msg) {
        Incoming::Notification(m) => {
            let raw = &msg[m];
            raw.strip_prefix(b"\"")
                .and_then(|s| s.strip_suffix(b"\""))
                .is_some_and(|s| s == method.as_bytes())
        }
        _ => false,
    }
}

/// The token we put in place of a caller's progress token on request `id`.
pub fn progress_token(id: u64) -> String {
    format!("{TOKEN_PREFIX}{id}")
}

/// `params` with `_meta.progressToken` replaced by `ours`, and the caller's
/// token as it was written; `None` when there is none (or it cannot be found
/// without a parse: escaped keys).
pub fn swap_progress_token(params: &[u8], ours: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let span = progress_token_span(params)?;
    let original = params[span.clone()].to_vec();
    let mut token = Vec::with_capacity(ours.len() + 2);
    write_str(&mut token, ours);
    Some((replace(params, span, &token), original))
}

fn progress_token_span(params: &[u8]) -> Option<Range<usize>> {
    let meta = find_top_level_value(params, b"_meta")?;
    let token = find_top_level_value(&params[meta.clone()], b"progressToken")?;
    Some(meta.start + token.start..meta.start + token.end)
}

/// For a `notifications/progress` carrying one of our tokens: the request id
/// it names and where the token sits in `msg`.
pub fn our_progress(msg: &[u8]) -> Option<(u64, Range<usize>)> {
    if !is_notification(msg, "notifications/progress") {
        return None;
    }
    let params = find_top_level_value(msg, b"params")?;
    let token = find_top_level_value(&msg[params.clone()], b"progressToken")?;
    let span = params.start + token.start..params.start + token.end;
    let text = msg[span.clone()].strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let id = our_id(text.strip_prefix(TOKEN_PREFIX.as_bytes())?)?;
    Some((id, span))
}

/// `params._meta["io.modelcontextprotocol/subscriptionId"]` as one of our ids.
pub fn subscription_id(msg: &[u8]) -> Option<u64> {
    let params = find_top_level_value(msg, b"params")?;
    let params = &msg[params];
    let meta = find_top_level_value(params, b"_meta")?;
    let meta = &params[meta];
    our_id(&meta[find_top_level_value(meta, META_SUBSCRIPTION)?])
}

/// `bytes` with `span` replaced by `with`.
pub fn replace(bytes: &[u8], span: Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + with.len());
    out.extend_from_slice(&bytes[..span.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&bytes[span.end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use simd_json::prelude::*;

    fn parse(bytes: &[u8]) -> simd_json::OwnedValue {
        simd_json::to_owned_value(&mut bytes.to_vec()).unwrap()
    }

    #[test]
    fn requests_and_notifications() {
        assert_eq!(
            request(7, "tools/list", b" {} "),
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#
        );
        assert_eq!(
            notification("notifications/initialized", b""),
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
        );
    }

    #[test]
    fn modern_meta_is_spliced_keeping_the_callers_bytes() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "{}"),
            (br#"{"name":"x","arguments":{"a" : 1}}"#, "no meta"),
            (
                br#"{"name":"x","_meta":{"progressToken":5,"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}"#,
                "version replaced",
            ),
            (
                br#"{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"c"}},"name":"x"}"#,
                "client info kept",
            ),
        ];
        for (params, why) in cases {
            let out = with_modern_meta(params).unwrap();
            let v = parse(&out);
            let meta = v.get("_meta").unwrap();
            assert_eq!(meta.get_str(META_VERSION), Some(MODERN_VERSION), "{why}");
            assert!(meta.get(META_CAPABILITIES).is_some(), "{why}");
            assert!(meta.get(META_CLIENT_INFO).is_some(), "{why}");
        }
        let out = with_modern_meta(br#"{"name":"x","arguments":{"a" : 1}}"#).unwrap();
        assert!(out.starts_with(br#"{"name":"x","arguments":{"a" : 1},"_meta":{"#));
        let out = with_modern_meta(br#"{"_meta":{"progressToken":5}}"#).unwrap();
        assert_eq!(parse(&out)["_meta"]["progressToken"], 5);
        let out =
            with_modern_meta(br#"{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"c"}}}"#)
                .unwrap();
        assert_eq!(
            parse(&out)["_meta"][META_CLIENT_INFO]["name"],
            "c",
            "the caller's info is not replaced"
        );
    }

    #[test]
    fn escaped_keys_take_the_parse_path() {
        let out = with_modern_meta(
            br#"{"n\u0061me":"x","_meta":{"io.modelcontextprotocol\/protocolVersion":"old"}}"#,
        )
        .unwrap();
        let v = parse(&out);
        assert_eq!(v.get_str("name"), Some("x"));
        assert_eq!(v["_meta"].get_str(META_VERSION), Some(MODERN_VERSION));
        assert!(with_modern_meta(b"[1]").is_err());
        assert!(with_modern_meta(b"{\"a\":").is_err());
    }

    #[test]
    fn ready_params_go_as_they_are_others_get_our_meta() {
        let own =
            br#"{"name":"x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#;
        assert!(matches!(modern_params(own, true), Ok(Cow::Borrowed(p)) if p == own));
        let spliced = modern_params(br#"{"name":"x"}"#, false).unwrap();
        assert!(
            spliced
                .windows(META_VERSION.len())
                .any(|w| w == META_VERSION.as_bytes())
        );
    }

    #[test]
    fn target_names_resolve_escapes() {
        assert_eq!(
            target_name(br#"{"name":"get_weather"}"#).as_deref(),
            Some("get_weather")
        );
        assert_eq!(
            target_name(br#"{"uri":"file:///a b"}"#).as_deref(),
            Some("file:///a b")
        );
        assert_eq!(target_name(br#"{"name":"\u4e16"}"#).as_deref(), Some("世"));
        assert_eq!(target_name(br#"{"name":3}"#), None);
        assert_eq!(target_name(b"{}"), None);
    }

    #[test]
    fn messages_are_classified_by_their_members() {
        let r = br#"{"jsonrpc":"2.0","id":12,"result":{}}"#;
        assert!(answers(r, 12));
        assert!(!answers(r, 1));
        assert!(answers(
            br#"{"jsonrpc":"2.0","id":3,"error":{"code":-1}}"#,
            3
        ));
        assert!(!answers(br#"{"jsonrpc":"2.0","id":"3","result":{}}"#, 3));
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Incoming::Request(22..23)
        );
        assert!(is_notification(
            br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
            "notifications/tools/list_changed"
        ));
        assert_eq!(classify(b"[]"), Incoming::Other);
        assert_eq!(classify(b"{\"jsonrpc\":\"2.0\"}"), Incoming::Other);
        assert_eq!(classify(b"{\"id\":"), Incoming::Other);
    }

    #[test]
    fn progress_tokens_round_trip() {
        let params = br#"{"name":"t","_meta":{"progressToken":"abc"}}"#;
        let (out, original) = swap_progress_token(params, &progress_token(41)).unwrap();
        assert_eq!(
            out,
            br#"{"name":"t","_meta":{"progressToken":"tollgate-41"}}"#
        );
        assert_eq!(original, br#""abc""#);
        assert_eq!(swap_progress_token(br#"{"name":"t"}"#, "x"), None);

        let note = br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tollgate-41","progress":1}}"#;
        let (id, span) = our_progress(note).unwrap();
        assert_eq!(id, 41);
        assert_eq!(
            replace(note, span, &original),
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"abc","progress":1}}"#
        );
        assert_eq!(
            our_progress(br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7}}"#),
            None
        );
    }

    #[test]
    fn subscription_ids_are_read_from_meta() {
        let note = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#;
        assert_eq!(subscription_id(note), Some(9));
        assert_eq!(subscription_id(br#"{"method":"x","params":{}}"#), None);
    }
}
