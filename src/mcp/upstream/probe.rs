//! The era probe's text, shared by both transports: `server/discover` at the
//! modern revision and what its answer says about the server, then the
//! `initialize` fallback and what its answer negotiated. Pure: the
//! transports send, wait and time out.

use simd_json::OwnedValue;
use simd_json::prelude::*;

use super::message::{CLIENT_INFO, LEGACY_OFFER, LEGACY_VERSIONS, MODERN_VERSION};
use crate::canonical::json_scan::find_top_level_value;

const UNSUPPORTED_VERSION: i64 = -32022;
const HEADER_MISMATCH: i64 = -32020;
const MISSING_CAPABILITY: i64 = -32021;

pub fn discover_params() -> Vec<u8> {
    // `{}` always takes the splice path.
    super::message::with_modern_meta(b"{}").unwrap_or_default()
}

/// The gateway offers a 2025-era server what any of its clients may
/// answer mid-call; a request to a client that cannot is refused per call.
const LEGACY_CAPABILITIES: &str =
    r#"{"elicitation":{"form":{},"url":{}},"sampling":{},"roots":{}}"#;

pub fn initialize_params() -> Vec<u8> {
    format!(
        "{{\"protocolVersion\":\"{LEGACY_OFFER}\",\"capabilities\":{LEGACY_CAPABILITIES},\"clientInfo\":{CLIENT_INFO}}}"
    )
    .into_bytes()
}

/// What an answer to `server/discover` says about the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Discovered {
    /// A modern server speaking our revision; the raw `result`.
    Modern(Vec<u8>),
    /// Anything that is not evidence of a modern server: fall back to `initialize`.
    Legacy,
    /// A modern server we cannot talk to.
    Incompatible(String),
}

/// Reads a JSON-RPC message answering the probe (an HTTP rejection's body
/// included). As the SDKs do, every error falls back to `initialize` but
/// the modern ones that leave nothing to fall back to.
pub fn discovered(msg: &[u8]) -> Discovered {
    let Some(v) = parse(msg) else {
        return Discovered::Legacy;
    };
    if let Some(result) = v.get("result") {
        let modern = result
            .get("supportedVersions")
            .and_then(|s| s.as_array())
            .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(MODERN_VERSION)));
        return match (modern, find_top_level_value(msg, b"result")) {
            (true, Some(span)) => Discovered::Modern(msg[span].to_vec()),
            _ => Discovered::Legacy,
        };
    }
    let Some(error) = v.get("error") else {
        return Discovered::Legacy;
    };
    match error.get_i64("code") {
        Some(UNSUPPORTED_VERSION) => {
            let supported: Vec<&str> = error
                .get("data")
                .and_then(|d| d.get("supported"))
                .and_then(|s| s.as_array())
                .map(|s| s.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if supported.is_empty() || supported.iter().any(|s| LEGACY_VERSIONS.contains(s)) {
                Discovered::Legacy
            } else {
                Discovered::Incompatible(format!(
                    "it supports only protocol versions {}",
                    supported.join(", ")
                ))
            }
        }
        Some(code @ (HEADER_MISMATCH | MISSING_CAPABILITY)) => {
            Discovered::Incompatible(format!("it refused the discovery probe with error {code}"))
        }
        _ => Discovered::Legacy,
    }
}

/// The version an `initialize` answer negotiated and its raw `result`.
pub fn initialized(msg: &[u8]) -> Result<(&'static str, Vec<u8>), String> {
    let v = parse(msg).ok_or("the initialize answer is not JSON")?;
    if let Some(error) = v.get("error") {
        return Err(format!(
            "initialize failed with error {}",
            error.get_i64("code").unwrap_or(0)
        ));
    }
    let version = v
        .get("result")
        .and_then(|r| r.get_str("protocolVersion"))
        .ok_or("the initialize answer has no protocolVersion")?;
    let version = LEGACY_VERSIONS
        .iter()
        .find(|known| **known == version)
        .ok_or_else(|| "initialize negotiated a protocol version we do not speak".to_string())?;
    let span = find_top_level_value(msg, b"result").ok_or("the initialize answer is ambiguous")?;
    Ok((version, msg[span].to_vec()))
}

fn parse(msg: &[u8]) -> Option<OwnedValue> {
    simd_json::to_owned_value(&mut msg.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_answers_decide_the_era() {
        let modern = br#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}}}}"#;
        match discovered(modern) {
            Discovered::Modern(info) => assert!(info.starts_with(br#"{"resultType""#)),
            other => panic!("{other:?}"),
        }
        let cases: [(&[u8], Discovered); 8] = [
            (
                br#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2025-11-25"]}}"#,
                Discovered::Legacy,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
                Discovered::Legacy,
            ),
            (
                br#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
                Discovered::Legacy,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"data":{"supported":["2026-07-28","2025-11-25"]}}}"#,
                Discovered::Legacy,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"data":{"supported":["2027-01-01"]}}}"#,
                Discovered::Incompatible(
                    "it supports only protocol versions 2027-01-01".into(),
                ),
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32020,"message":"x"}}"#,
                Discovered::Incompatible(
                    "it refused the discovery probe with error -32020".into(),
                ),
            ),
            (b"Not Found", Discovered::Legacy),
            (b"", Discovered::Legacy),
        ];
        for (msg, want) in cases {
            assert_eq!(discovered(msg), want, "{}", String::from_utf8_lossy(msg));
        }
    }

    #[test]
    fn initialize_answers_name_a_handshake_version() {
        let ok = br#"{"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}"#;
        let (version, info) = initialized(ok).unwrap();
        assert_eq!(version, "2025-06-18");
        assert!(info.starts_with(br#"{"protocolVersion""#));
        for bad in [
            &br#"{"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2026-07-28"}}"#[..],
            br#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"no"}}"#,
            br#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
            b"nope",
        ] {
            assert!(initialized(bad).is_err());
        }
    }

    #[test]
    fn probe_params_are_well_formed() {
        let v = parse(&discover_params()).unwrap();
        assert_eq!(
            v["_meta"].get_str("io.modelcontextprotocol/protocolVersion"),
            Some(MODERN_VERSION)
        );
        let v = parse(&initialize_params()).unwrap();
        assert_eq!(v.get_str("protocolVersion"), Some(LEGACY_OFFER));
        assert_eq!(v["clientInfo"].get_str("name"), Some("tollgate"));
    }
}
