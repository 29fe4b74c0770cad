//! Sealed `requestState` (2026-07-28 multi-round-trip requests). A server
//! that answers `input_required` may give a `requestState` the client
//! echoes on its retry; the spec has the server bind it to the principal,
//! the request and a short expiry. An upstream cannot: it sees the
//! gateway's credentials, not the client's. So the gateway seals what the
//! upstream gave (byte-exact, possibly nothing) under an HMAC with the
//! caller, a digest of the call (method, target, arguments) and an expiry,
//! and opens it on the retry: another key's state, another call's, an
//! expired or a changed one is refused before anything goes upstream.
//!
//! Layout: `tg1.` then base64url without padding of a format byte, the
//! 16-byte subject, the 16-byte call digest, `expires_s` (u64 big-endian),
//! a flags byte, the upstream's state token (raw JSON, quotes and escapes
//! included; empty when it gave none), then HMAC-SHA256 of all that cut
//! to 16 bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{Context, SHA256};
use ring::hmac;

const PREFIX: &str = "tg1.";
const FORMAT: u8 = 1;
const HEAD: usize = 1 + 16 + 16 + 8 + 1;
const MAC_LEN: usize = 16;
/// Keeps these MACs apart from session ids under the same secret.
const DOMAIN: &[u8] = b"tollgate mcp request state";
/// The call was released by an approval (a retry is the same call).
const APPROVED: u8 = 1;

/// What a sealed state says besides the upstream's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateClaims {
    pub subject: [u8; 16],
    pub call: [u8; 16],
    pub expires_s: u64,
    pub approved: bool,
}

/// A digest of one call: the method, what it names (a tool or prompt
/// name, a resource URI) and the arguments' bytes.
pub fn call_digest(method: &str, target: &str, args: &[u8]) -> [u8; 16] {
    let mut ctx = Context::new(&SHA256);
    for part in [method.as_bytes(), target.as_bytes(), args] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&ctx.finish().as_ref()[..16]);
    out
}

/// Seals and opens states under one secret.
pub struct StateSigner {
    key: hmac::Key,
}

impl StateSigner {
    pub fn new(secret: &[u8]) -> Self {
        StateSigner {
            key: super::session::derived_key(secret, DOMAIN),
        }
    }

    /// The token the client is given: `upstream` is the server's
    /// `requestState` as a raw JSON string token, or `None`.
    pub fn seal(&self, claims: &StateClaims, upstream: Option<&[u8]>) -> String {
        let upstream = upstream.unwrap_or_default();
        let mut raw = Vec::with_capacity(HEAD + upstream.len() + MAC_LEN);
        raw.push(FORMAT);
        raw.extend_from_slice(&claims.subject);
        raw.extend_from_slice(&claims.call);
        raw.extend_from_slice(&claims.expires_s.to_be_bytes());
        raw.push(if claims.approved { APPROVED } else { 0 });
        raw.extend_from_slice(upstream);
        let tag = hmac::sign(&self.key, &raw);
        raw.extend_from_slice(&tag.as_ref()[..MAC_LEN]);
        let mut out = String::with_capacity(PREFIX.len() + raw.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(raw, &mut out);
        out
    }

    /// The claims and the upstream's state of a token this signer (or one
    /// with its secret) sealed; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<(StateClaims, Option<Vec<u8>>)> {
        let raw = URL_SAFE_NO_PAD.decode(token.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < HEAD + MAC_LEN {
            return None;
        }
        let (signed, tag) = raw.split_at(raw.len() - MAC_LEN);
        let expected = hmac::sign(&self.key, signed);
        // Truncated tag: compare the MACs of both in constant time.
        let of_expected = hmac::sign(&self.key, &expected.as_ref()[..MAC_LEN]);
        hmac::verify(&self.key, tag, of_expected.as_ref()).ok()?;
        if signed[0] != FORMAT {
            return None;
        }
        let claims = StateClaims {
            subject: signed[1..17].try_into().ok()?,
            call: signed[17..33].try_into().ok()?,
            expires_s: u64::from_be_bytes(signed[33..41].try_into().ok()?),
            approved: signed[41] & APPROVED != 0,
        };
        let upstream = &signed[HEAD..];
        Some((claims, (!upstream.is_empty()).then(|| upstream.to_vec())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> StateClaims {
        StateClaims {
            subject: [7; 16],
            call: call_digest("tools/call", "alpha-confirm", br#"{"a":1}"#),
            expires_s: 1_800_000_000,
            approved: true,
        }
    }

    #[test]
    fn a_sealed_state_opens_with_its_claims_and_the_upstreams_bytes() {
        let s = StateSigner::new(b"secret");
        let upstream = br#""opaque \"state\" \u00e9""#;
        let token = s.seal(&claims(), Some(upstream));
        assert!(token.starts_with("tg1."));
        let (c, up) = s.open(&token).unwrap();
        assert_eq!(c, claims());
        assert_eq!(up.as_deref(), Some(&upstream[..]));
        let bare = s.seal(
            &StateClaims {
                approved: false,
                ..claims()
            },
            None,
        );
        let (c, up) = s.open(&bare).unwrap();
        assert!(!c.approved);
        assert_eq!(up, None);
    }

    #[test]
    fn anything_changed_or_foreign_does_not_open() {
        let s = StateSigner::new(b"secret");
        let token = s.seal(&claims(), Some(b"\"x\""));
        assert!(StateSigner::new(b"other").open(&token).is_none());
        let mut raw = URL_SAFE_NO_PAD.decode(&token[4..]).unwrap();
        for i in [0, 5, 20, 40, 41, raw.len() - 3, raw.len() - 1] {
            raw[i] ^= 1;
            let changed = format!("tg1.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert!(s.open(&changed).is_none(), "byte {i} changed");
            raw[i] ^= 1;
        }
        for junk in ["", "tg1.", "tg1.AAAA", "x.abc", &token[4..]] {
            assert!(s.open(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn the_call_digest_tells_calls_apart() {
        let a = call_digest("tools/call", "t", b"{}");
        assert_eq!(a, call_digest("tools/call", "t", b"{}"));
        assert_ne!(a, call_digest("tools/call", "t", b"{ }"));
        assert_ne!(a, call_digest("prompts/get", "t", b"{}"));
        assert_ne!(
            call_digest("tools/call", "ab", b"c"),
            call_digest("tools/call", "a", b"bc")
        );
    }
}
