//! Texts a core has already found benign, so a conversation's history —
//! resent whole with every turn — is scanned once, not once per turn: the
//! string values themselves, and the last bodies whose every value was
//! benign (a new turn shares its predecessor's bytes up to the end of the
//! old messages: only what follows is walked).
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

/// Bodies remembered per core, and how much of each.
const BODIES: usize = 16;
const BODY_BYTES: usize = 64 << 10;

#[derive(Default)]
struct Seen {
    build: u64,
    texts: FxHashMap<u64, Box<[u8]>>,
    bytes: usize,
    /// Bodies whose every string value was benign (their first
    /// `BODY_BYTES`), with every string literal's span, oldest first.
    bodies: std::collections::VecDeque<Cleared>,
}

struct Cleared {
    bytes: Box<[u8]>,
    /// Every string literal (keys too), quotes included, in order.
    strings: Box<[(u32, u32)]>,
}

impl Cleared {
    /// Where a walk over a body sharing `shared` bytes with this one must
    /// start: the shared end, or the start of the string it cuts through.
    fn resume(&self, shared: usize) -> usize {
        let i = self
            .strings
            .partition_point(|&(s, _)| (s as usize) < shared);
        match i.checked_sub(1).map(|i| self.strings[i]) {
            Some((start, end)) if end as usize > shared => start as usize,
            _ => shared,
        }
    }
}

/// How many leading bytes `a` and `b` share: 64 at a time (a vector
/// compare), then 16 at a time within the first block that differs.
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 64 <= n && a[i..i + 64] == b[i..i + 64] {
        i += 64;
    }
    while i + 16 <= n {
        let x = u128::from_le_bytes(a[i..i + 16].try_into().unwrap_or_default());
        let y = u128::from_le_bytes(b[i..i + 16].try_into().unwrap_or_default());
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 16;
    }
    i + a[i..n]
        .iter()
        .zip(&b[i..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Where a walk over `body` must start: past the longest prefix it shares
/// with a body this core cleared (every value up to there is known
/// benign), and that body's string literals before that point.
/// `body.len()` for a body seen whole; 0 when none shares any.
pub fn resume_at(build: u64, body: &[u8]) -> (usize, Vec<(u32, u32)>) {
    SEEN.with(|s| {
        let s = s.borrow();
        if s.build != build {
            return (0, Vec::new());
        }
        let mut best: Option<(&Cleared, usize)> = None;
        // Newest first: a conversation's previous turn is usually the last
        // body this core cleared, and a new turn extends it to near its end.
        for c in s.bodies.iter().rev() {
            if c.bytes.get(..16) != body.get(..16) {
                continue;
            }
            let shared = shared_prefix(&c.bytes, body);
            if shared == body.len() && shared == c.bytes.len() {
                return (body.len(), Vec::new());
            }
            let resume = c.resume(shared);
            if best.is_none_or(|(_, r)| resume > r) {
                best = Some((c, resume));
            }
            if shared + 256 >= c.bytes.len() {
                break;
            }
        }
        match best {
            Some((c, resume)) => {
                // Literals are in order and never overlap: their ends too.
                let n = c
                    .strings
                    .partition_point(|&(_, end)| end as usize <= resume);
                (resume, c.strings[..n].to_vec())
            }
            None => (0, Vec::new()),
        }
    })
}

/// Remembers `body`, whose every string value was benign; its string
/// literals' spans are `before` (from a cleared body it extends) then
/// `after` (walked now), in order.
pub fn remember_body(build: u64, body: &[u8], before: &[(u32, u32)], after: &[(usize, usize)]) {
    SEEN.with(|s| {
        let mut s = s.borrow_mut();
        if s.build != build {
            return;
        }
        let kept = body.len().min(BODY_BYTES);
        let before = &before[..before.partition_point(|&(start, _)| (start as usize) < kept)];
        let after = &after[..after.partition_point(|&(start, _)| start < kept)];
        // One allocation of the exact size (both lengths are known).
        let mut strings = Vec::with_capacity(before.len() + after.len());
        strings.extend_from_slice(before);
        strings.extend(after.iter().map(|&(a, b)| (a as u32, b as u32)));
        if s.bodies.len() == BODIES {
            s.bodies.pop_front();
        }
        s.bodies.push_back(Cleared {
            bytes: body[..kept].into(),
            strings: strings.into_boxed_slice(),
        });
    })
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
            s.bodies.clear();
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

    #[test]
    fn a_new_turn_resumes_where_it_leaves_the_cleared_body() {
        let old = br#"{"m":[{"c":"first message, benign"},{"c":"second"}],"t":1}"#;
        let spans = [(1, 4), (7, 10), (11, 34), (37, 40), (41, 49), (52, 55)];
        for &(a, b) in &spans {
            assert_eq!(old[a], b'"');
            assert_eq!(old[b - 1], b'"');
        }
        remember(9, b"\"x\"");
        remember_body(9, old, &[], &spans);
        assert_eq!(
            resume_at(9, old).0,
            old.len(),
            "the same body: nothing to walk"
        );
        // The next turn changes the array's end: resume there.
        let next = br#"{"m":[{"c":"first message, benign"},{"c":"second"},{"c":"third"}]}"#;
        let as_u32 = |n: usize| -> Vec<(u32, u32)> {
            spans[..n]
                .iter()
                .map(|&(a, b)| (a as u32, b as u32))
                .collect()
        };
        assert_eq!(resume_at(9, next), (50, as_u32(5)));
        // A change inside a value: resume at that value's opening quote.
        let edited = br#"{"m":[{"c":"first message, EVIL"},{"c":"second"}],"t":1}"#;
        assert_eq!(resume_at(9, edited), (11, as_u32(2)));
        assert_eq!(resume_at(10, old).0, 0, "another build knows nothing");
        assert_eq!(
            shared_prefix(b"abcdefghijklmnopqrstu", b"abcdefghijklmnopqrsXu"),
            19
        );
        let long: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        for at in [0, 15, 16, 63, 64, 65, 127, 128, 200, 299] {
            let mut other = long.clone();
            other[at] ^= 0xff;
            assert_eq!(shared_prefix(&long, &other), at, "differs at {at}");
        }
        assert_eq!(shared_prefix(&long, &long), 300);
        assert_eq!(shared_prefix(&long, &long[..170]), 170);
    }
}
