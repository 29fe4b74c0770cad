//! OpenAI tool-call ids for Gemini function calls. Gemini (mostly) sends no
//! call ids, yet a call's `thoughtSignature` must come back on the same part
//! next turn; the id is the one field every OpenAI client echoes, so it
//! carries the signature (and Gemini's own id, when there was one).
//!
//! Layout, every piece in `[A-Za-z0-9_-]` for signatures in standard base64:
//!
//! ```text
//! call_<16 hex key>[i<len>_<gemini id>][s<signature, base64url, no padding> | u<signature verbatim>]
//! ```
//!
//! The key is FNV-1a over (responseId, call ordinal, name), so the same
//! answer always yields the same ids, streamed or not, and ids stay unique
//! across turns. Standard base64 is rewritten to the URL alphabet (`+/` →
//! `-_`, padding dropped) so the id also passes providers that restrict ids
//! to `[A-Za-z0-9_-]`; padding is restored from the length on the way back.
//! Ids that do not parse (a client's own, another provider's) carry nothing.

use std::fmt::Write;

pub const PREFIX: &str = "call_";
const KEY_LEN: usize = 16;

/// What a tool-call id carries back to Gemini.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecodedId<'a> {
    /// Gemini's own `functionCall.id`, when the model sent one.
    pub gemini_id: Option<&'a str>,
    /// The `thoughtSignature` of the call's part, exactly as Gemini sent it.
    pub signature: Option<String>,
}

/// The stable key of the `ordinal`-th call (0-based, across the whole answer).
pub fn call_key(response_id: &str, ordinal: u32, name: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(response_id.as_bytes());
    eat(&[0xff]);
    eat(&ordinal.to_le_bytes());
    eat(name.as_bytes());
    h
}

/// Builds the id for one call.
pub fn encode(key: u64, gemini_id: Option<&str>, signature: Option<&str>) -> String {
    let sig_len = signature.map_or(0, str::len);
    let gid_len = gemini_id.map_or(0, |g| g.len() + 8);
    let mut id = String::with_capacity(PREFIX.len() + KEY_LEN + gid_len + sig_len + 1);
    id.push_str(PREFIX);
    let _ = write!(id, "{key:016x}");
    if let Some(gid) = gemini_id.filter(|g| !g.is_empty()) {
        let _ = write!(id, "i{}_", gid.len());
        id.push_str(gid);
    }
    if let Some(sig) = signature.filter(|s| !s.is_empty()) {
        if is_padded_std_base64(sig) {
            id.push('s');
            for c in sig.chars() {
                match c {
                    '+' => id.push('-'),
                    '/' => id.push('_'),
                    '=' => {}
                    c => id.push(c),
                }
            }
        } else {
            id.push('u');
            id.push_str(sig);
        }
    }
    id
}

/// Reads an id built by [`encode`]; anything else decodes to nothing.
pub fn decode(id: &str) -> DecodedId<'_> {
    let Some(rest) = id.strip_prefix(PREFIX) else {
        return DecodedId::default();
    };
    if rest.len() < KEY_LEN || !rest.as_bytes()[..KEY_LEN].iter().all(u8::is_ascii_hexdigit) {
        return DecodedId::default();
    }
    let mut rest = &rest[KEY_LEN..];
    let mut out = DecodedId::default();
    if let Some(after) = rest.strip_prefix('i') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(len) = after[..digits].parse::<usize>() else {
            return DecodedId::default();
        };
        let Some(body) = after[digits..].strip_prefix('_') else {
            return DecodedId::default();
        };
        let Some(gid) = body.get(..len) else {
            return DecodedId::default();
        };
        out.gemini_id = Some(gid);
        rest = &body[len..];
    }
    if let Some(sig) = rest.strip_prefix('s') {
        let mut s = String::with_capacity(sig.len() + 3);
        for c in sig.chars() {
            s.push(match c {
                '-' => '+',
                '_' => '/',
                c => c,
            });
        }
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        out.signature = Some(s);
    } else if let Some(sig) = rest.strip_prefix('u') {
        out.signature = Some(sig.to_owned());
    } else if !rest.is_empty() {
        return DecodedId::default();
    }
    out
}

/// Standard alphabet, correctly padded: only then is the URL rewrite lossless.
fn is_padded_std_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_signature_and_gemini_id() {
        for sig in [
            "EqUC+/ab",
            "AY89a19Y+Z/=",
            "Zm9vYg==",
            "abc-_x",
            "not base64!",
        ] {
            for gid in [None, Some("fc_1"), Some("x_y_9")] {
                let id = encode(call_key("r", 3, "f"), gid, Some(sig));
                let d = decode(&id);
                assert_eq!(d.signature.as_deref(), Some(sig), "{id}");
                assert_eq!(d.gemini_id, gid, "{id}");
            }
        }
    }

    #[test]
    fn standard_base64_becomes_id_safe() {
        let id = encode(1, None, Some("ab+/cd=="));
        assert_eq!(id, "call_0000000000000001sab-_cd");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
    }

    #[test]
    fn unsigned_ids_and_foreign_ids_carry_nothing() {
        assert_eq!(decode(&encode(7, None, None)), DecodedId::default());
        assert_eq!(decode("call_abc"), DecodedId::default());
        assert_eq!(
            decode("toolu_01A09q90qw90lq917835lq9"),
            DecodedId::default()
        );
        assert_eq!(decode("call_0123456789abcdefzzz"), DecodedId::default());
        assert_eq!(
            decode("call_0123456789abcdefi99_short"),
            DecodedId::default()
        );
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(call_key("r1", 0, "f"), call_key("r1", 0, "f"));
        assert_ne!(call_key("r1", 0, "f"), call_key("r1", 1, "f"));
        assert_ne!(call_key("r1", 0, "f"), call_key("r2", 0, "f"));
    }
}
