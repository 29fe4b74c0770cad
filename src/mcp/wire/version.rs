//! The protocol versions the gateway speaks and the two eras they fall in:
//! legacy (an `initialize` handshake, sessions) and modern (stateless, the
//! version in every request's `_meta`).

/// Modern versions, newest first.
pub const MODERN: &[&str] = &["2026-07-28"];
/// Legacy versions, newest first.
pub const LEGACY: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// Every version, newest first, as a JSON array: the `supported` list of an
/// `UnsupportedProtocolVersionError` and of `server/discover`.
const SUPPORTED_JSON: &str = r#"["2026-07-28","2025-11-25","2025-06-18","2025-03-26"]"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    Legacy,
    Modern,
}

/// The era of a version the gateway supports; `None` for any other.
pub fn era_of(v: &str) -> Option<Era> {
    if MODERN.contains(&v) {
        Some(Era::Modern)
    } else if LEGACY.contains(&v) {
        Some(Era::Legacy)
    } else {
        None
    }
}

/// `v` as the gateway's own `'static` string, when it is supported.
pub fn supported(v: &str) -> Option<&'static str> {
    MODERN.iter().chain(LEGACY).find(|s| **s == v).copied()
}

/// The version to answer an `initialize` asking for `requested`: the same
/// one when it is a supported legacy version, else the newest legacy one
/// (the 2025-11-25 lifecycle's rule; a modern version is not negotiated
/// by handshake).
pub fn negotiate_legacy(requested: &str) -> &'static str {
    LEGACY
        .iter()
        .find(|s| **s == requested)
        .copied()
        .unwrap_or(LEGACY[0])
}

pub fn supported_json() -> &'static str {
    SUPPORTED_JSON
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_fall_in_their_era() {
        for (v, era) in [
            ("2026-07-28", Some(Era::Modern)),
            ("2025-11-25", Some(Era::Legacy)),
            ("2025-06-18", Some(Era::Legacy)),
            ("2025-03-26", Some(Era::Legacy)),
            ("2024-11-05", None),
            ("2026-07-28 ", None),
            ("", None),
        ] {
            assert_eq!(era_of(v), era, "{v:?}");
            assert_eq!(supported(v).is_some(), era.is_some(), "{v:?}");
        }
        assert_eq!(supported(&String::from("2025-06-18")), Some("2025-06-18"));
    }

    #[test]
    fn legacy_negotiation_echoes_or_offers_the_newest() {
        for (requested, answered) in [
            ("2025-06-18", "2025-06-18"),
            ("2025-03-26", "2025-03-26"),
            ("2025-11-25", "2025-11-25"),
            ("2024-11-05", "2025-11-25"),
            ("2026-07-28", "2025-11-25"),
            ("garbage", "2025-11-25"),
        ] {
            assert_eq!(negotiate_legacy(requested), answered, "{requested}");
        }
    }

    #[test]
    fn the_supported_list_is_every_version_newest_first() {
        let mut want = String::from("[");
        for (i, v) in MODERN.iter().chain(LEGACY).enumerate() {
            if i > 0 {
                want.push(',');
            }
            want.push_str(&format!("\"{v}\""));
        }
        want.push(']');
        assert_eq!(supported_json(), want);
    }
}
