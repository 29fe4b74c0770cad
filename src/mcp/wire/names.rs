//! Federated names: an upstream's tool (prompt, resource name) as clients
//! see it, `<prefix>-<name>`, kept within the 64 characters and the
//! `[A-Za-z0-9_.-]` charset every model API accepts for a function name.

use ring::digest::{SHA256, digest};

/// The longest federated name (the function-name limit of the model APIs
/// a tool list ends up in).
pub const MAX_NAME: usize = 64;

/// Hex digits of the name's hash in a shortened name.
const HASH_HEX: usize = 8;

/// `prefix-name` when that fits and is all of the charset; otherwise
/// `prefix-<head>-<hash>`: the name's start with other characters turned to
/// `_`, cut so the whole is exactly [`MAX_NAME`] long (or shorter when the
/// name is), and 8 hex digits of the name's SHA-256, which keeps two names
/// with one head (or one sanitized spelling) apart.
pub fn federated(prefix: &str, name: &str) -> String {
    let plain = prefix.len() + 1 + name.len() <= MAX_NAME && name.bytes().all(is_name_byte);
    if plain {
        return format!("{prefix}-{name}");
    }
    // Config keeps prefixes to 32 characters; a longer one is cut so the
    // hash always fits.
    let prefix = &prefix[..floor_char_boundary(prefix, MAX_NAME - HASH_HEX - 2)];
    let room = MAX_NAME - prefix.len() - HASH_HEX - 2;
    let head: String = name
        .chars()
        .take(room)
        .map(|c| {
            if c.is_ascii() && is_name_byte(c as u8) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}-{head}-{}", hash_hex(name))
}

/// The first [`HASH_HEX`] hex digits of SHA-256 of `name`.
fn hash_hex(name: &str) -> String {
    let d = digest(&SHA256, name.as_bytes());
    d.as_ref()[..HASH_HEX / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    (0..=at.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        !name.is_empty() && name.len() <= MAX_NAME && name.bytes().all(is_name_byte)
    }

    #[test]
    fn short_names_are_prefixed_and_long_or_odd_ones_hashed() {
        let long = "a".repeat(80);
        for (prefix, name, want) in [
            ("alpha", "read_file", "alpha-read_file".to_owned()),
            (
                "alpha",
                "admin.tools.list",
                "alpha-admin.tools.list".to_owned(),
            ),
            (
                "alpha",
                &"x".repeat(58),
                format!("alpha-{}", "x".repeat(58)),
            ),
            (
                "alpha",
                &"x".repeat(59),
                format!("alpha-{}-{}", "x".repeat(49), hash_hex(&"x".repeat(59))),
            ),
            (
                "alpha",
                "get weather",
                format!("alpha-get_weather-{}", hash_hex("get weather")),
            ),
            ("alpha", "天気", format!("alpha-__-{}", hash_hex("天気"))),
            (
                "p",
                &long,
                format!("p-{}-{}", "a".repeat(53), hash_hex(&long)),
            ),
        ] {
            let got = federated(prefix, name);
            assert_eq!(got, want, "{name}");
            assert!(valid(&got), "{got}");
            assert_eq!(got, federated(prefix, name), "deterministic");
        }
    }

    #[test]
    fn shortened_names_fill_the_limit_and_stay_apart() {
        let head = "search_the_knowledge_base_for_documents_matching_the_query_";
        let one = format!("{head}by_title");
        let two = format!("{head}by_author");
        let (a, b) = (federated("kb", &one), federated("kb", &two));
        assert_eq!((a.len(), b.len()), (MAX_NAME, MAX_NAME));
        assert_ne!(a, b);
        assert_eq!(a[..MAX_NAME - HASH_HEX], b[..MAX_NAME - HASH_HEX]);
        assert_ne!(federated("x", "a b"), federated("x", "a_b"));
    }

    #[test]
    fn an_overlong_prefix_still_leaves_room_for_the_hash() {
        let got = federated(&"p".repeat(70), "tool");
        assert!(valid(&got), "{got}");
        assert!(got.ends_with(&hash_hex("tool")));
    }
}
