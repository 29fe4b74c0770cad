//! Signed legacy-era session ids (`Mcp-Session-Id`): the claims travel in
//! the id under an HMAC, so any core, or any instance holding the secret,
//! verifies one without a shared store.
//!
//! Layout, base64url without padding (72 characters): a format byte, the
//! 16-byte subject, the version's index, the client's capabilities (a
//! [`caps`] bit set), `created_s` (u64 big-endian), a 12-byte nonce, then
//! HMAC-SHA256 of all that cut to 16 bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::version::{LEGACY, MODERN};

const FORMAT: u8 = 2;
const CLAIMS_LEN: usize = 1 + 16 + 1 + 1 + 8 + 12;
const MAC_LEN: usize = 16;
const LEN: usize = CLAIMS_LEN + MAC_LEN;

/// Keeps these MACs apart from anything else the same secret signs (the
/// Redis tier's shared secret may be it).
const DOMAIN: &[u8] = b"tollgate mcp session id";

/// What a session id says: whose it is, the negotiated version, when it was
/// minted, and a nonce that makes each id unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub subject: [u8; 16],
    pub version: &'static str,
    /// What the client declared at `initialize` it can answer (elicitation,
    /// sampling, roots), for requests the gateway relays to it.
    pub caps: u8,
    pub created_s: u64,
    pub nonce: [u8; 12],
}

/// The client capabilities a session remembers, as bits.
pub mod caps {
    pub const ELICITATION_FORM: u8 = 1;
    pub const ELICITATION_URL: u8 = 2;
    pub const SAMPLING: u8 = 4;
    pub const ROOTS: u8 = 8;

    /// The bits of an `initialize`'s `capabilities` object (raw JSON).
    /// An empty `elicitation` object means form mode (the 2025 default).
    pub fn of(capabilities: &[u8]) -> u8 {
        use crate::mcp::json::members;
        let r = 0..capabilities.len();
        let [elicitation, sampling, roots] =
            members(capabilities, r, [b"elicitation", b"sampling", b"roots"]);
        let mut out = 0;
        if let Some(e) = elicitation {
            let [form, url] = members(capabilities, e, [b"form", b"url"]);
            if form.is_some() || url.is_none() {
                out |= ELICITATION_FORM;
            }
            if url.is_some() {
                out |= ELICITATION_URL;
            }
        }
        if sampling.is_some() {
            out |= SAMPLING;
        }
        if roots.is_some() {
            out |= ROOTS;
        }
        out
    }

    /// The 2026-07-28 `clientCapabilities` object for `bits`.
    pub fn json(bits: u8) -> Vec<u8> {
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        match (bits & ELICITATION_FORM != 0, bits & ELICITATION_URL != 0) {
            (true, true) => parts.push(r#""elicitation":{"form":{},"url":{}}"#),
            (true, false) => parts.push(r#""elicitation":{"form":{}}"#),
            (false, true) => parts.push(r#""elicitation":{"url":{}}"#),
            (false, false) => {}
        }
        if bits & SAMPLING != 0 {
            parts.push(r#""sampling":{}"#);
        }
        if bits & ROOTS != 0 {
            parts.push(r#""roots":{}"#);
        }
        format!("{{{}}}", parts.join(",")).into_bytes()
    }
}

/// The first 16 bytes of SHA-256 of whatever identifies the caller (a key's
/// digest, an OAuth subject): enough to tell callers apart, nothing to
/// recover them from.
pub fn subject_of(id: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest(&SHA256, id.as_bytes()).as_ref()[..16]);
    out
}

/// A fresh nonce for [`Claims::nonce`].
pub fn nonce() -> Result<[u8; 12], ring::error::Unspecified> {
    let mut out = [0u8; 12];
    SystemRandom::new().fill(&mut out)?;
    Ok(out)
}

/// An HMAC key of its own for `domain` under `secret`: what one domain
/// signs, another's check never accepts.
pub(super) fn derived_key(secret: &[u8], domain: &[u8]) -> hmac::Key {
    let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let derived = hmac::sign(&root, domain);
    hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
}

/// Mints and verifies session ids under one secret.
pub struct Signer {
    key: hmac::Key,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Signer {
            key: derived_key(secret, DOMAIN),
        }
    }

    /// A signer under a random 32-byte secret: ids it mints die with the
    /// process.
    pub fn random() -> Result<Self, ring::error::Unspecified> {
        let mut secret = [0u8; 32];
        SystemRandom::new().fill(&mut secret)?;
        Ok(Signer::new(&secret))
    }

    /// The id for `claims`; `None` only when `claims.version` is not one the
    /// gateway speaks.
    pub fn mint(&self, claims: &Claims) -> Option<String> {
        let version = versions().position(|v| v == claims.version)?;
        let mut raw = [0u8; LEN];
        raw[0] = FORMAT;
        raw[1..17].copy_from_slice(&claims.subject);
        raw[17] = u8::try_from(version).ok()?;
        raw[18] = claims.caps;
        raw[19..27].copy_from_slice(&claims.created_s.to_be_bytes());
        raw[27..CLAIMS_LEN].copy_from_slice(&claims.nonce);
        let tag = hmac::sign(&self.key, &raw[..CLAIMS_LEN]);
        raw[CLAIMS_LEN..].copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        Some(URL_SAFE_NO_PAD.encode(raw))
    }

    /// The claims of an id this signer (or one with its secret) minted;
    /// `None` for anything else: wrong length, unknown format or version, a
    /// changed byte.
    pub fn verify(&self, id: &str) -> Option<Claims> {
        let raw: [u8; LEN] = URL_SAFE_NO_PAD.decode(id).ok()?.try_into().ok()?;
        let expected = hmac::sign(&self.key, &raw[..CLAIMS_LEN]);
        // The tag is truncated, so `hmac::verify` cannot take it as is: it
        // compares (in constant time) the MAC of the presented tag with the
        // MAC of the expected one instead, equal exactly when they are.
        let of_expected = hmac::sign(&self.key, &expected.as_ref()[..MAC_LEN]);
        hmac::verify(&self.key, &raw[CLAIMS_LEN..], of_expected.as_ref()).ok()?;
        if raw[0] != FORMAT {
            return None;
        }
        Some(Claims {
            subject: raw[1..17].try_into().ok()?,
            version: versions().nth(usize::from(raw[17]))?,
            caps: raw[18],
            created_s: u64::from_be_bytes(raw[19..27].try_into().ok()?),
            nonce: raw[27..CLAIMS_LEN].try_into().ok()?,
        })
    }
}

/// Every version, in a fixed order: a version is carried as its index.
fn versions() -> impl Iterator<Item = &'static str> {
    MODERN.iter().chain(LEGACY).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            subject: subject_of("key-digest"),
            version: "2025-06-18",
            caps: caps::ELICITATION_FORM | caps::ROOTS,
            created_s: 1_760_000_000,
            nonce: *b"nonce-123456",
        }
    }

    #[test]
    fn minted_ids_verify_to_their_claims_and_are_visible_ascii() {
        let signer = Signer::new(b"secret");
        for version in LEGACY.iter().chain(MODERN) {
            let c = Claims {
                version,
                ..claims()
            };
            let id = signer.mint(&c).unwrap();
            assert_eq!(id.len(), 74);
            assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id}");
            assert_eq!(signer.verify(&id), Some(c));
            assert_eq!(Signer::new(b"secret").verify(&id), Some(c), "same secret");
        }
        let other = Claims {
            version: "1999-01-01",
            ..claims()
        };
        assert_eq!(signer.mint(&other), None);
    }

    #[test]
    fn every_changed_byte_fails() {
        let signer = Signer::new(b"secret");
        let id = signer.mint(&claims()).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&id).unwrap();
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= flip;
                assert_eq!(
                    signer.verify(&URL_SAFE_NO_PAD.encode(&bad)),
                    None,
                    "byte {i}"
                );
            }
        }
        let mut text = id.clone().into_bytes();
        for i in 0..text.len() {
            let keep = text[i];
            text[i] = if keep == b'A' { b'B' } else { b'A' };
            let s = String::from_utf8(text.clone()).unwrap();
            assert_eq!(signer.verify(&s), None, "char {i}");
            text[i] = keep;
        }
    }

    #[test]
    fn other_signers_and_malformed_ids_fail() {
        let id = Signer::new(b"secret").mint(&claims()).unwrap();
        assert_eq!(Signer::new(b"secreT").verify(&id), None);
        assert_eq!(Signer::random().unwrap().verify(&id), None);
        for bad in [
            String::new(),
            id[..73].to_owned(),
            format!("{id}A"),
            format!("{id}="),
            id.replace(['-', '_'], "+"),
            "not base64 at all!".into(),
        ] {
            if bad != id {
                assert_eq!(Signer::new(b"secret").verify(&bad), None, "{bad:?}");
            }
        }
    }

    #[test]
    fn a_valid_mac_over_an_unknown_format_or_version_fails() {
        let signer = Signer::new(b"secret");
        let id = signer.mint(&claims()).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&id).unwrap();
        for (at, value) in [(0, 1u8), (17, 200)] {
            let mut forged = raw.clone();
            forged[at] = value;
            let tag = hmac::sign(&signer.key, &forged[..CLAIMS_LEN]);
            forged[CLAIMS_LEN..].copy_from_slice(&tag.as_ref()[..MAC_LEN]);
            assert_eq!(signer.verify(&URL_SAFE_NO_PAD.encode(&forged)), None);
        }
    }

    #[test]
    fn subjects_and_nonces_differ() {
        assert_ne!(subject_of("a"), subject_of("b"));
        assert_eq!(subject_of("a"), subject_of("a"));
        assert_ne!(nonce().unwrap(), nonce().unwrap());
    }

    #[test]
    fn capabilities_are_read_as_bits_and_written_back() {
        let cases: [(&[u8], u8); 5] = [
            (b"{}", 0),
            (br#"{"elicitation":{}}"#, caps::ELICITATION_FORM),
            (br#"{"elicitation":{"url":{}}}"#, caps::ELICITATION_URL),
            (
                br#"{"elicitation":{"form":{},"url":{}},"sampling":{},"roots":{"listChanged":true}}"#,
                caps::ELICITATION_FORM | caps::ELICITATION_URL | caps::SAMPLING | caps::ROOTS,
            ),
            (br#"{"sampling":{},"experimental":{}}"#, caps::SAMPLING),
        ];
        for (json, bits) in cases {
            assert_eq!(caps::of(json), bits, "{}", String::from_utf8_lossy(json));
            assert_eq!(caps::of(&caps::json(bits)), bits);
        }
        assert_eq!(caps::json(0), b"{}");
    }
}
