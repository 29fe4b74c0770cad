//! JSON-RPC messages written as bytes: results, errors, notifications,
//! requests, SSE framing, and the one edit the gateway makes to a result
//! it relays (its top-level fields), done without re-serializing the rest.

use super::json;
use super::version;
use crate::canonical::json::{write_i64, write_str};

/// JSON-RPC's codes and the ones MCP (2026-07-28) defines.
pub mod code {
    pub const PARSE_ERROR: i32 = -32700;
    pub const INVALID_REQUEST: i32 = -32600;
    pub const METHOD_NOT_FOUND: i32 = -32601;
    pub const INVALID_PARAMS: i32 = -32602;
    pub const INTERNAL_ERROR: i32 = -32603;
    pub const HEADER_MISMATCH: i32 = -32020;
    pub const MISSING_CAPABILITY: i32 = -32021;
    pub const UNSUPPORTED_VERSION: i32 = -32022;
}

const HEAD: &[u8] = br#"{"jsonrpc":"2.0""#;

/// `{"jsonrpc":"2.0","id":…,"result":…}`; `id_raw` and `result_json` are
/// JSON text copied as they are.
pub fn result(id_raw: &[u8], result_json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD.len() + id_raw.len() + result_json.len() + 20);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#","id":"#);
    out.extend_from_slice(id_raw);
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result_json);
    out.push(b'}');
    out
}

/// An error response. Without an id (the request's could not be read) it
/// carries `"id":null`, as JSON-RPC 2.0 says: the schema makes `id`
/// optional, but the Python SDK's client requires the member, and null
/// satisfies both.
pub fn error(id_raw: Option<&[u8]>, code: i32, message: &str, data: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + message.len() + data.map_or(0, <[u8]>::len));
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#","id":"#);
    out.extend_from_slice(id_raw.unwrap_or(b"null"));
    out.extend_from_slice(br#","error":{"code":"#);
    write_i64(&mut out, i64::from(code));
    out.extend_from_slice(br#","message":"#);
    write_str(&mut out, message);
    if let Some(data) = data {
        out.extend_from_slice(br#","data":"#);
        out.extend_from_slice(data);
    }
    out.extend_from_slice(b"}}");
    out
}

/// -32022 with `data: {"supported":[…],"requested":…}` (the schema's
/// `UnsupportedProtocolVersionError`).
pub fn unsupported_version(id_raw: Option<&[u8]>, requested: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(96 + requested.len());
    data.extend_from_slice(br#"{"supported":"#);
    data.extend_from_slice(version::supported_json().as_bytes());
    data.extend_from_slice(br#","requested":"#);
    write_str(&mut data, requested);
    data.push(b'}');
    error(
        id_raw,
        code::UNSUPPORTED_VERSION,
        "Unsupported protocol version",
        Some(&data),
    )
}

/// `{"jsonrpc":"2.0","method":…[,"params":…]}`.
pub fn notification(method: &str, params_json: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + params_json.map_or(0, <[u8]>::len));
    out.extend_from_slice(HEAD);
    push_method_params(&mut out, method, params_json);
    out
}

/// `{"jsonrpc":"2.0","id":…,"method":…[,"params":…]}`.
pub fn request(id_raw: &[u8], method: &str, params_json: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + id_raw.len() + params_json.map_or(0, <[u8]>::len));
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#","id":"#);
    out.extend_from_slice(id_raw);
    push_method_params(&mut out, method, params_json);
    out
}

fn push_method_params(out: &mut Vec<u8>, method: &str, params_json: Option<&[u8]>) {
    out.extend_from_slice(br#","method":"#);
    write_str(out, method);
    if let Some(params) = params_json {
        out.extend_from_slice(br#","params":"#);
        out.extend_from_slice(params);
    }
    out.push(b'}');
}

/// Appends `msg` as one SSE `message` event. JSON text holds line breaks
/// only between tokens, so a pretty-printed message becomes one `data:`
/// line per line, which the client joins back with `\n`.
pub fn sse_event(msg: &[u8], out: &mut Vec<u8>) {
    out.reserve(msg.len() + 24);
    out.extend_from_slice(b"event: message\n");
    for line in msg.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// `result_json` with the top-level members in `fields` (name, raw JSON
/// value) set: one already there is replaced where it stands (a repeat of
/// it dropped), the others appended; every other member is copied as it
/// is. What is not an object comes back unchanged.
pub fn with_result_fields(result_json: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let Some(members) = json::members(result_json, 0..result_json.len()) else {
        return result_json.to_vec();
    };
    let extra: usize = fields.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(result_json.len() + extra);
    let mut written = vec![false; fields.len()];
    out.push(b'{');
    for m in &members {
        if out.len() > 1 {
            out.push(b',');
        }
        match fields.iter().position(|(k, _)| *k == m.key) {
            Some(i) if written[i] => {
                out.pop();
            }
            Some(i) => {
                write_str(&mut out, fields[i].0);
                out.push(b':');
                out.extend_from_slice(fields[i].1.as_bytes());
                written[i] = true;
            }
            None => {
                out.extend_from_slice(&result_json[m.key_span.clone()]);
                out.push(b':');
                out.extend_from_slice(&result_json[m.value.clone()]);
            }
        }
    }
    for ((k, v), _) in fields.iter().zip(&written).filter(|(_, w)| !**w) {
        if out.len() > 1 {
            out.push(b',');
        }
        write_str(&mut out, k);
        out.push(b':');
        out.extend_from_slice(v.as_bytes());
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn messages_are_written_as_the_schema_shows() {
        for (got, want) in [
            (
                result(b"1", br#"{"tools":[]}"#),
                r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#,
            ),
            (
                error(
                    Some(br#""a""#),
                    code::METHOD_NOT_FOUND,
                    "Method not found",
                    None,
                ),
                r#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"Method not found"}}"#,
            ),
            (
                error(None, code::PARSE_ERROR, "Parse \"error\"", Some(b"[1]")),
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse \"error\"","data":[1]}}"#,
            ),
            (
                notification("notifications/initialized", None),
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            ),
            (
                request(b"7", "tools/list", Some(b"{}")),
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#,
            ),
            (
                unsupported_version(Some(b"1"), "1900-01-01"),
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26"],"requested":"1900-01-01"}}}"#,
            ),
        ] {
            assert_eq!(text(got), want);
        }
    }

    #[test]
    fn every_built_message_parses_back_as_its_kind() {
        use super::super::message::{Kind, parse};
        for (bytes, kind) in [
            (result(b"1", b"{}"), Kind::Response),
            (error(None, code::INTERNAL_ERROR, "x", None), Kind::Error),
            (notification("a", Some(b"{}")), Kind::Notification),
            (request(b"\"r\"", "a", None), Kind::Request),
            (unsupported_version(None, "x\u{1}"), Kind::Error),
        ] {
            assert_eq!(parse(&bytes).map(|m| m.kind), Ok(kind));
        }
    }

    #[test]
    fn sse_events_carry_each_line_as_data() {
        let mut out = b": keep-alive\n\n".to_vec();
        sse_event(br#"{"a":1}"#, &mut out);
        sse_event(b"{\r\n \"b\": 2\n}", &mut out);
        assert_eq!(
            text(out),
            ": keep-alive\n\nevent: message\ndata: {\"a\":1}\n\n\
             event: message\ndata: {\ndata:  \"b\": 2\ndata: }\n\n"
        );
    }

    #[test]
    fn result_fields_are_set_in_place_or_appended() {
        let rt = ("resultType", r#""complete""#);
        for (result, fields, want) in [
            (
                r#"{"tools":[{"a":1}]}"#,
                &[rt][..],
                r#"{"tools":[{"a":1}],"resultType":"complete"}"#,
            ),
            (
                r#"{ "resultType" : "x", "tools" : [] , "nextCursor":"c"}"#,
                &[rt, ("nextCursor", r#""d""#), ("ttlMs", "5")][..],
                r#"{"resultType":"complete","tools":[],"nextCursor":"d","ttlMs":5}"#,
            ),
            (r#"{}"#, &[rt][..], r#"{"resultType":"complete"}"#),
            (
                r#"{"a":1,"ttlMs":1,"b":2,"ttlMs":2}"#,
                &[("ttlMs", "3")][..],
                r#"{"a":1,"ttlMs":3,"b":2}"#,
            ),
            (
                r#"{"ttlMs":1,"ttlMs":2}"#,
                &[("ttlMs", "3")][..],
                r#"{"ttlMs":3}"#,
            ),
            (r#"[1]"#, &[rt][..], r#"[1]"#),
        ] {
            assert_eq!(
                text(with_result_fields(result.as_bytes(), fields)),
                want,
                "{result}"
            );
        }
    }
}
