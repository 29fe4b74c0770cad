//! Texts a core has already found benign, so a conversation's history —
//! resent whole with every turn — is scanned once, not once per turn.
//!
//! Per core (a thread-local: no lock, no sharing), keyed by the guards'
//! build (a reload's new rules start from nothing), bounded in bytes (full:
//! forgotten whole). Entries are compared byte for byte after the hash
//! lookup, so a hash collision can only cost a scan, never skip one.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

use rustc_hash::{FxBuildHasher, FxHashMap};

/// What one core remembers, at most (the texts' own bytes).
const MAX_BYTES: usize = 8 << 20;

#[derive(Default)]
struct Seen {
    build: u64,
    texts: FxHashMap<u64, Box<[u8]>>,
    bytes: usize,
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

fn hash(text: &[u8]) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write(text);
    h.finish()
}

/// Whether this core found `text` benign under guards build `build`.
pub fn known(build: u64, text: &[u8]) -> bool {
    with_known(build, |known| known(text))
}

/// Runs `f` with a lookup for many texts at once (one borrow of the memo).
pub fn with_known<R>(build: u64, f: impl FnOnce(&dyn Fn(&[u8]) -> bool) -> R) -> R {
    SEEN.with(|s| {
        let s = s.borrow();
        let known = |text: &[u8]| {
            s.build == build && s.texts.get(&hash(text)).is_some_and(|t| t.as_ref() == text)
        };
        f(&known)
    })
}

/// Remembers `text` as benign under guards build `build`.
pub fn remember(build: u64, text: &[u8]) {
    SEEN.with(|s| {
        let mut s = s.borrow_mut();
        if s.build != build || s.bytes + text.len() > MAX_BYTES {
            s.texts.clear();
            s.texts.shrink_to(1024);
            s.bytes = 0;
            s.build = build;
        }
        if let Some(old) = s.texts.insert(hash(text), text.into()) {
            s.bytes -= old.len();
        }
        s.bytes += text.len();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_build_and_compares_bytes() {
        let text = b"\"a benign sentence about trains and bikes\"";
        assert!(!known(7, text));
        remember(7, text);
        assert!(known(7, text));
        assert!(!known(8, text), "a new build starts from nothing");
        assert!(!known(7, b"\"a benign sentence about trains and bike!\""));
        remember(8, b"\"something else entirely, long enough\"");
        assert!(!known(7, text), "the old build was forgotten");
    }
}
