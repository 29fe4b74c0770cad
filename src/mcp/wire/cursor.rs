//! Opaque pagination cursors for federated lists: which catalog generation
//! a page was cut from and where the next page starts. Unsigned: a forged
//! cursor can only ask for a page the key could list anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Marks the format, so a cursor from another scheme (or another server)
/// fails to decode instead of naming a random offset.
const TAG: u8 = 0xc1;
const LEN: usize = 1 + 8 + 8;

/// `generation` and `offset` as base64url without padding.
pub fn encode(generation: u64, offset: usize) -> String {
    let mut raw = [0u8; LEN];
    raw[0] = TAG;
    raw[1..9].copy_from_slice(&generation.to_be_bytes());
    raw[9..].copy_from_slice(&(offset as u64).to_be_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

/// The generation and offset of a cursor [`encode`] made; `None` for any
/// other string (the caller answers -32602).
pub fn decode(s: &str) -> Option<(u64, usize)> {
    let raw: [u8; LEN] = URL_SAFE_NO_PAD.decode(s).ok()?.try_into().ok()?;
    if raw[0] != TAG {
        return None;
    }
    let generation = u64::from_be_bytes(raw[1..9].try_into().ok()?);
    let offset = u64::from_be_bytes(raw[9..].try_into().ok()?);
    Some((generation, usize::try_from(offset).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_as_url_safe_text() {
        for (generation, offset) in [(0, 0), (1, 100), (u64::MAX, usize::MAX), (7, 12345)] {
            let c = encode(generation, offset);
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{c}"
            );
            assert_eq!(decode(&c), Some((generation, offset)));
        }
    }

    #[test]
    fn anything_else_is_no_cursor() {
        let good = encode(3, 200);
        let mut wrong_tag = URL_SAFE_NO_PAD.decode(&good).unwrap();
        wrong_tag[0] ^= 1;
        for bad in [
            String::new(),
            "abc".into(),
            format!("{good}="),
            format!("{good}A"),
            good[1..].to_owned(),
            good.replace('A', "+"),
            URL_SAFE_NO_PAD.encode(wrong_tag),
            "2".into(),
        ] {
            assert_eq!(decode(&bad), None, "{bad:?}");
        }
    }
}
