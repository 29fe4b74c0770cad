//! Gateway keys: minted, hashed and looked up. A key's secret is never
//! kept: the gateway stores and compares only its SHA-256, so neither the
//! config, the database nor Redis holds anything a thief could present.

use std::cell::RefCell;

use ring::digest::{SHA256, digest};

use super::types::KeyRecord;

pub type Digest = [u8; 32];

/// SHA-256 of a presented secret. Each core remembers the last secret it
/// hashed (compared in constant time): a client's keep-alive connection
/// presents the same key on every request, and the head check and the
/// pipeline both authenticate it.
pub fn digest_of(secret: &[u8]) -> Digest {
    thread_local! {
        static LAST: RefCell<(Vec<u8>, Digest)> = const { RefCell::new((Vec::new(), [0; 32])) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if constant_time_eq(&last.0, secret) {
            return last.1;
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, secret).as_ref());
        last.0.clear();
        last.0.extend_from_slice(secret);
        last.1 = out;
        out
    })
}

/// Equal-length inputs are compared in time independent of where they
/// differ: every byte is read, eight at a time, and the differences or-ed.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let words = a_words.iter().zip(b_words).fold(0u64, |acc, (x, y)| {
        acc | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    let rest = a_rest
        .iter()
        .zip(b_rest)
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    words == 0 && rest == 0
}

pub fn to_hex(d: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

pub fn from_hex(s: &str) -> Option<Digest> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// A new secret (`tg-` and 40 base-62 characters, 238 bits) and its hex digest.
pub fn mint() -> (String, String) {
    use ring::rand::SecureRandom;
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = ring::rand::SystemRandom::new();
    let mut secret = String::from("tg-");
    while secret.len() < 43 {
        let mut buf = [0u8; 64];
        if rng.fill(&mut buf).is_err() {
            continue;
        }
        // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
        for b in buf.into_iter().filter(|&b| b < 248) {
            if secret.len() == 43 {
                break;
            }
            secret.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    let hash = to_hex(digest(&SHA256, secret.as_bytes()).as_ref());
    (secret, hash)
}

/// A fresh public id for a key the admin API creates.
pub fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut buf = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut buf);
    format!("key_{}", to_hex(&buf))
}

/// What a client may be shown of a secret: its first characters.
pub fn prefix_of(secret: &str) -> String {
    let cut = secret
        .char_indices()
        .nth(7)
        .map_or(secret.len(), |(i, _)| i);
    format!("{}…", &secret[..cut])
}

/// The `[[keys]]` of a config as records: each secret resolved and hashed
/// (or its configured hash taken). A key whose secret cannot be read is
/// left out, with the reason on stderr (never the secret).
pub fn from_config(config: &crate::config::Config) -> Vec<KeyRecord> {
    let mut out = Vec::new();
    for k in &config.keys {
        let hash = match (&k.key, &k.hash) {
            (_, Some(h)) => crate::config::parse_hash(h),
            (Some(reference), None) => match crate::router::read_secret(reference) {
                Ok(secret) => Some(to_hex(
                    digest(&SHA256, secret.expose().trim().as_bytes()).as_ref(),
                )),
                Err(e) => {
                    eprintln!("tollgate: key `{}` is disabled: {e}", k.id);
                    None
                }
            },
            (None, None) => None,
        };
        let Some(hash) = hash else { continue };
        out.push(KeyRecord {
            id: k.id.clone(),
            hash,
            prefix: String::new(),
            name: None,
            team: k.team.clone(),
            models: k.models.clone(),
            limits: k.limits,
            budgets: k.budgets,
            priority: k.priority,
            allow_priority_header: k.allow_priority_header,
            region: k.region.clone(),
            tags: k.tags.clone(),
            allow_timeout_header: k.allow_timeout_header,
            expires_at: k
                .expires
                .as_deref()
                .and_then(super::types::parse_day)
                .map(|d| (d * 86_400) as u64),
            tool_policy: k.tool_policy.clone(),
            created_at: 0,
            revoked_at: None,
            created_by: "config".into(),
            source: super::types::KeySource::Config,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality_at_every_length_and_difference() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) + 1).collect();
            assert!(constant_time_eq(&a, &a.clone()), "{len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!constant_time_eq(&a, &b), "{len} {at}");
            }
            assert!(!constant_time_eq(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn minted_keys_hash_to_what_they_claim() {
        let (secret, hash) = mint();
        assert!(secret.starts_with("tg-") && secret.len() == 43);
        assert_eq!(to_hex(&digest_of(secret.as_bytes())), hash);
        assert_eq!(from_hex(&hash).map(|d| to_hex(&d)), Some(hash));
        let (other, _) = mint();
        assert_ne!(secret, other);
    }

    #[test]
    fn the_per_core_memo_never_answers_for_another_secret() {
        let a = digest_of(b"tg-first");
        let b = digest_of(b"tg-second");
        assert_ne!(a, b);
        assert_eq!(digest_of(b"tg-first"), a);
        assert_eq!(prefix_of("tg-AbCdEfGh"), "tg-AbCd…");
    }
}
