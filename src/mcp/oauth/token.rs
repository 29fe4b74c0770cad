//! A compact JWS taken apart: three base64url segments, the header's `alg`
//! and `kid`, and the claims an access token carries. Every step is bounded
//! (token length, JSON depth) and strict: padding, non-canonical base64,
//! repeated members and wrongly typed claims are refused, since two parsers
//! reading one token differently is how signature checks get bypassed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use simd_json::tape::Value;

use crate::canonical::tape::Obj;
use crate::canonical::tape::prelude::*;

/// The longest token looked at; a real access token is well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Nesting allowed in a header or claims set (delegation chains in `act`
/// and provider role maps go three or four deep).
const MAX_DEPTH: usize = 16;

/// The signature algorithms accepted; anything else (`none` included) is
/// [`Header::alg`] = `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
    Hs256,
}

/// The three segments of `header.payload.signature`, still encoded.
pub struct Compact<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
}

/// Splits a compact JWS; `None` unless there are exactly three segments
/// with a non-empty header and payload (a JWE's five are refused here).
pub fn split(token: &str) -> Option<Compact<'_>> {
    let (header, rest) = token.split_once('.')?;
    let (payload, signature) = rest.split_once('.')?;
    if header.is_empty() || payload.is_empty() || signature.contains('.') {
        return None;
    }
    Some(Compact {
        header,
        payload,
        signature,
        signing_input: &token.as_bytes()[..header.len() + 1 + payload.len()],
    })
}

/// Decodes one segment: base64url without padding, canonical trailing bits.
pub fn decode(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// What the header says about how to verify the token.
pub struct Header {
    /// `None` when `alg` names an algorithm not accepted (`none`, `RS512`…).
    pub alg: Option<Alg>,
    pub kid: Option<String>,
    /// The header lists critical extensions; none is understood, so such a
    /// token must be refused (RFC 7515 §4.1.11).
    pub crit: bool,
}

/// Reads the header segment; `None` unless it is a JSON object with a
/// string `alg` (and, if present, a string `kid`).
pub fn read_header(segment: &str) -> Option<Header> {
    if segment.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut json = decode(segment)?;
    with_object(&mut json, |obj| {
        let mut alg = None;
        let mut kid = None;
        let mut crit = false;
        for (key, value) in obj.iter() {
            match key {
                "alg" => alg = Some(parse_alg(value.as_str()?)),
                "kid" => kid = Some(value.as_str()?.to_owned()),
                "crit" => crit = true,
                _ => {}
            }
        }
        Some(Header {
            alg: alg?,
            kid,
            crit,
        })
    })
}

fn parse_alg(name: &str) -> Option<Alg> {
    match name {
        "RS256" => Some(Alg::Rs256),
        "ES256" => Some(Alg::Es256),
        "HS256" => Some(Alg::Hs256),
        _ => None,
    }
}

/// The claims of a verified token, as written; their meaning (issuer,
/// audience, times, scopes) is checked by the caller.
#[derive(Debug, Default)]
pub struct TokenClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub client_id: Option<String>,
    pub aud: Vec<String>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
    pub scopes: Vec<String>,
}

/// Reads the payload segment; `None` if it is not a JSON object or a
/// registered claim has the wrong type.
pub fn read_claims(segment: &str) -> Option<TokenClaims> {
    let mut json = decode(segment)?;
    with_object(&mut json, |obj| {
        let mut c = TokenClaims::default();
        let mut azp = None;
        for (key, value) in obj.iter() {
            match key {
                "iss" => c.iss = Some(value.as_str()?.to_owned()),
                "sub" => c.sub = Some(value.as_str()?.to_owned()),
                "client_id" => c.client_id = Some(value.as_str()?.to_owned()),
                "azp" => azp = Some(value.as_str()?.to_owned()),
                "aud" => c.aud = strings(value)?,
                "exp" => c.exp = Some(numeric_date(value)?),
                "nbf" => c.nbf = Some(numeric_date(value)?),
                "iat" => c.iat = Some(numeric_date(value)?),
                // RFC 8693 `scope` is space-separated; `scp` (Azure,
                // Okta) is an array or, at some issuers, a string too.
                "scope" | "scp" => c.scopes.extend(scope_list(value)?),
                _ => {}
            }
        }
        if c.client_id.is_none() {
            c.client_id = azp;
        }
        Some(c)
    })
}

/// Parses `json` (bounded in depth) and hands its top-level object to `f`;
/// `None` if it is not an object or repeats a member.
fn with_object<T>(json: &mut [u8], f: impl FnOnce(&Obj<'_, '_>) -> Option<T>) -> Option<T> {
    let mut buffers = simd_json::Buffers::with_max_depth(json.len(), MAX_DEPTH);
    let tape = simd_json::to_tape_with_buffers(json, &mut buffers).ok()?;
    let obj = tape.as_value().as_object()?;
    if has_repeated_key(&obj) {
        return None;
    }
    f(&obj)
}

/// simd-json resolves a repeated key to its first or last value depending
/// on the object's size; an issuer's library may resolve it the other way,
/// so a token with one is refused outright (RFC 7519 §4 allows it).
fn has_repeated_key(obj: &Obj<'_, '_>) -> bool {
    let mut keys: Vec<&str> = obj.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly with a
/// fraction (dropped); negative or non-numeric is `None`.
fn numeric_date(value: Value<'_, '_>) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // `as` saturates at u64::MAX for huge values, which reads as "far future".
    (f.is_finite() && f >= 0.0).then_some(f as u64)
}

/// A string or an array of strings.
fn strings(value: Value<'_, '_>) -> Option<Vec<String>> {
    if let Some(s) = value.as_str() {
        return Some(vec![s.to_owned()]);
    }
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Scopes from a space-separated string or an array of strings.
fn scope_list(value: Value<'_, '_>) -> Option<Vec<String>> {
    if let Some(s) = value.as_str() {
        return Some(
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    strings(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn split_wants_exactly_three_segments() {
        let cases: &[(&str, bool)] = &[
            ("a.b.c", true),
            ("a.b.", true),
            ("a.b", false),
            ("a.b.c.d.e", false),
            (".b.c", false),
            ("a..c", false),
            ("", false),
        ];
        for (token, ok) in cases {
            assert_eq!(split(token).is_some(), *ok, "{token}");
        }
        let parts = split("ab.cd.ef").unwrap();
        assert_eq!(parts.signing_input, b"ab.cd");
    }

    #[test]
    fn decode_is_strict_base64url() {
        assert_eq!(decode("YWI").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode("YWI="), None, "padding");
        assert_eq!(decode("YWJ"), None, "non-canonical trailing bits");
        assert_eq!(decode("Y+I"), None, "standard alphabet");
    }

    #[test]
    fn header_reads_alg_kid_and_crit() {
        let h = read_header(&seg(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(h.alg, Some(Alg::Es256));
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert!(!h.crit);
        assert_eq!(read_header(&seg(r#"{"alg":"none"}"#)).unwrap().alg, None);
        assert!(
            read_header(&seg(r#"{"alg":"HS256","crit":["b64"]}"#))
                .unwrap()
                .crit
        );
        for bad in [
            r#"{"typ":"JWT"}"#,
            r#"{"alg":256}"#,
            r#"{"alg":"HS256","kid":1}"#,
            r#"{"alg":"HS256","alg":"RS256"}"#,
            r#"["alg"]"#,
            "not json",
        ] {
            assert!(read_header(&seg(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn claims_read_every_shape_issuers_use() {
        let c = read_claims(&seg(
            r#"{"iss":"i","sub":"s","azp":"c","aud":["a","b"],"exp":10.9,"nbf":1,"iat":2,
                "scope":"read  write","scp":["admin"]}"#,
        ))
        .unwrap();
        assert_eq!(c.iss.as_deref(), Some("i"));
        assert_eq!(c.client_id.as_deref(), Some("c"));
        assert_eq!(c.aud, ["a", "b"]);
        assert_eq!((c.exp, c.nbf, c.iat), (Some(10), Some(1), Some(2)));
        assert_eq!(c.scopes, ["read", "write", "admin"]);
        let c = read_claims(&seg(r#"{"aud":"a","client_id":"x","azp":"y"}"#)).unwrap();
        assert_eq!(c.aud, ["a"]);
        assert_eq!(c.client_id.as_deref(), Some("x"));
    }

    #[test]
    fn claims_of_the_wrong_type_or_repeated_are_refused() {
        for bad in [
            r#"{"exp":"10"}"#,
            r#"{"exp":-1}"#,
            r#"{"aud":[1]}"#,
            r#"{"scope":7}"#,
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"sub":"a","\u0073ub":"b"}"#,
        ] {
            assert!(read_claims(&seg(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{\"x\":{}1{}}}", "[".repeat(64), "]".repeat(64));
        assert!(read_claims(&seg(&deep)).is_none());
        let shallow = format!("{{\"x\":{}1{}}}", "[".repeat(4), "]".repeat(4));
        assert!(read_claims(&seg(&shallow)).is_some());
    }
}
