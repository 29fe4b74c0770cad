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
//!
//! Steady state allocates nothing: texts are copied into one arena, a new
//! turn overwrites the body it extends (a conversation holds one entry,
//! not one per turn), a new conversation takes over the oldest entry's
//! buffers, and the walk's vectors are the memo's own.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

use rustc_hash::{FxBuildHasher, FxHashMap};

use super::strings::Strings;

/// What one core remembers, at most (the texts' own bytes).
const MAX_BYTES: usize = 8 << 20;

/// Texts the memo is first sized for (it grows past them).
const TEXTS: usize = 4096;

/// Bodies remembered per core, and how much of each.
const BODIES: usize = 16;
const BODY_BYTES: usize = 64 << 10;

/// A body whose old end lies this close to where a new one leaves it is
/// that body's next turn (or its retry): the new one takes its place.
const EXTENDS: usize = 256;

/// One core's memo, for one guards build.
#[derive(Default)]
pub struct Memo {
    build: u64,
    /// Hash → the text's span in `arena`.
    texts: FxHashMap<u64, (u32, u32)>,
    arena: Vec<u8>,
    /// Bodies whose every string value was benign (their first
    /// `BODY_BYTES`), with their values' spans, oldest first (a few:
    /// moving one is cheaper than a ring's wrapped indexing).
    bodies: Vec<Cleared>,
}

#[derive(Default)]
struct Cleared {
    bytes: Vec<u8>,
    /// Every string value's span (not the keys'), quotes included, in
    /// order: enough to resume at a place outside any literal.
    strings: Vec<(u32, u32)>,
}

impl Cleared {
    /// Becomes `body`, whose first `at` bytes and `before` values it
    /// already holds; `walked` are the values after them.
    fn rewrite(&mut self, at: usize, before: usize, body: &[u8], walked: &[(u32, u32)]) {
        self.bytes.truncate(at);
        self.bytes.extend_from_slice(&body[at..]);
        self.strings.truncate(before);
        self.strings.extend_from_slice(walked);
    }

    /// Where a walk over a body sharing `shared` bytes with this one must
    /// start — the start of the value the shared end cuts through, else the
    /// end of the last value before it (outside any literal: the keys
    /// between are walked again, and judged as keys), else the body's
    /// start — and how many of this body's values lie wholly before that.
    fn resume(&self, shared: usize) -> (usize, usize) {
        let i = partition_from_back(&self.strings, |&(s, _)| (s as usize) < shared);
        match i.checked_sub(1).map(|i| self.strings[i]) {
            // Values never overlap: the ones before the cut one end before it.
            Some((start, end)) if end as usize > shared => (start as usize, i - 1),
            Some((_, end)) => (end as usize, i),
            None => (0, 0),
        }
    }
}

/// Where a body's walk starts, and what it continues.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resume {
    /// Every value before this byte is known benign: `body.len()` for a
    /// body seen whole, 0 when no cleared body shares any of it.
    pub at: usize,
    /// The cleared body it continues and how many of that body's values
    /// lie before `at`; whether the new body is its next turn.
    from: Option<(usize, usize, bool)>,
}

impl Resume {
    /// Whether the body is the next turn of a body this core cleared: the
    /// values past `at` are then its new messages, not yet seen anywhere.
    pub fn next_turn(&self) -> bool {
        self.from.is_some_and(|(_, _, extends)| extends)
    }
}

/// `spans.partition_point(pred)`, looked for from the end first: where a
/// new body leaves a cleared one is usually among its last literals.
fn partition_from_back(spans: &[(u32, u32)], pred: impl Fn(&(u32, u32)) -> bool) -> usize {
    let mut n = spans.len();
    for _ in 0..8 {
        match n.checked_sub(1).map(|i| &spans[i]) {
            Some(last) if !pred(last) => n -= 1,
            _ => return n,
        }
    }
    spans[..n].partition_point(pred)
}

/// How many leading bytes `a` and `b` share: 128 at a time while they
/// are equal, then 32 at a time with the first difference found by its
/// mask (AVX2 where the CPU has it: a history of a few KB is compared on
/// every turn, and a `memcmp` call per block cost more than the
/// compares); 16 at a time, then byte by byte, for the rest.
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        let (i, differ) = unsafe { shared_avx2(a, b) };
        return if differ {
            i
        } else {
            i + shared_tail(&a[i..], &b[i..])
        };
    }
    shared_tail(a, b)
}

/// [`shared_prefix`] of two slices of one length, 16 bytes at a time.
fn shared_tail(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
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

/// Over `a` and `b` (of one length): where the first difference is, and
/// true; or where the whole 32-byte steps end, all equal, and false.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn shared_avx2(a: &[u8], b: &[u8]) -> (usize, bool) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_testz_si256, _mm256_xor_si256,
    };
    let n = a.len().min(b.len());
    // SAFETY (both closures): callers pass `at + 32 <= n`, so 32 bytes
    // are readable from `at` in both; loadu needs no alignment.
    let load =
        |s: &[u8], at: usize| unsafe { _mm256_loadu_si256(s.as_ptr().add(at).cast::<__m256i>()) };
    let differ = |at: usize| _mm256_xor_si256(load(a, at), load(b, at));
    let mut i = 0;
    while i + 128 <= n {
        let any = _mm256_or_si256(
            _mm256_or_si256(differ(i), differ(i + 32)),
            _mm256_or_si256(differ(i + 64), differ(i + 96)),
        );
        if _mm256_testz_si256(any, any) == 0 {
            break;
        }
        i += 128;
    }
    while i + 32 <= n {
        let same = _mm256_movemask_epi8(_mm256_cmpeq_epi8(load(a, i), load(b, i))) as u32;
        if same != u32::MAX {
            return (i + (!same).trailing_zeros() as usize, true);
        }
        i += 32;
    }
    (i, false)
}

thread_local! {
    /// The memo, and the walk's vectors lent to each request in turn.
    static SEEN: RefCell<(Memo, Strings)> = RefCell::new(Default::default());
}

/// Runs `f` with this core's memo for guards build `build` (another
/// build's memo is forgotten first) and this core's walk vectors.
pub fn with<R>(build: u64, f: impl FnOnce(&mut Memo, &mut Strings) -> R) -> R {
    SEEN.with(|s| {
        let (memo, strings) = &mut *s.borrow_mut();
        if memo.build != build {
            memo.forget_all();
            memo.build = build;
        }
        f(memo, strings)
    })
}

/// A text's key in the memo.
pub fn hash(text: &[u8]) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write(text);
    h.finish()
}

impl Memo {
    fn forget_all(&mut self) {
        self.bodies.clear();
        self.forget_texts();
    }

    fn forget_texts(&mut self) {
        self.texts.clear();
        self.texts.shrink_to(TEXTS);
        self.arena.clear();
    }

    /// Where a walk over `body` must start: past the longest prefix it
    /// shares with a body this core cleared (every value up to there is
    /// known benign).
    pub fn resume(&self, body: &[u8]) -> Resume {
        let mut best = Resume::default();
        // Newest first: a conversation's previous turn is usually the last
        // body this core cleared, and a new turn extends it to near its end.
        for (index, c) in self.bodies.iter().enumerate().rev() {
            if c.bytes.first_chunk::<16>() != body.first_chunk::<16>() {
                continue;
            }
            let shared = shared_prefix(&c.bytes, body);
            if shared == body.len() && shared == c.bytes.len() {
                return Resume {
                    at: body.len(),
                    from: None,
                };
            }
            let (at, before) = c.resume(shared);
            let extends = shared + EXTENDS >= c.bytes.len();
            if best.from.is_none() || at > best.at {
                best = Resume {
                    at,
                    from: Some((index, before, extends)),
                };
            }
            if extends {
                break;
            }
        }
        best
    }

    /// Whether `text` (whose `hash` it is) was found benign.
    pub fn known(&self, hash: u64, text: &[u8]) -> bool {
        self.texts
            .get(&hash)
            .is_some_and(|&(start, end)| self.arena.get(start as usize..end as usize) == Some(text))
    }

    /// Remembers `text` (whose `hash` it is) as benign.
    pub fn remember(&mut self, hash: u64, text: &[u8]) {
        if self.arena.len() + text.len() > MAX_BYTES {
            self.forget_texts();
            if text.len() > MAX_BYTES {
                return;
            }
        }
        if self.arena.capacity() == 0 {
            // Its whole budget at once: growing by copies would cost more
            // than the texts' own copy, and untouched pages cost nothing.
            self.arena.reserve_exact(MAX_BYTES);
            self.texts.reserve(TEXTS);
        }
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(text);
        self.texts.insert(hash, (start, self.arena.len() as u32));
    }

    /// Remembers `body`, whose every string value was benign, walked from
    /// `resume`; `walked` are the spans of the values the walk found.
    /// The body it continues is overwritten past `resume.at` when the new
    /// one is its next turn (or it is the oldest, due out anyway).
    pub fn remember_body(&mut self, resume: Resume, body: &[u8], walked: &[(u32, u32)]) {
        if resume.from.is_none() && resume.at > 0 {
            // Seen whole: remembered already, and nothing was walked.
            return;
        }
        let kept = body.len().min(BODY_BYTES);
        let walked = match kept == body.len() {
            true => walked,
            false => &walked[..walked.partition_point(|&(start, _)| (start as usize) < kept)],
        };
        let full = self.bodies.len() == BODIES;
        // The entry the body goes to becomes the newest; what it already
        // holds of the body: its first `at` bytes and `before` values.
        let (at, before) = match resume.from {
            // Its next turn, or the oldest (due out anyway): overwritten
            // past `at`, which is within the prefix both share.
            Some((index, before, extends)) if extends || (full && index == 0) => {
                let Some(rest) = self.bodies.get_mut(index..).filter(|r| !r.is_empty()) else {
                    return;
                };
                rest.rotate_left(1);
                (resume.at, before)
            }
            // A new entry (the oldest's buffers when full), with the
            // values before `at` of the body it shares them with.
            from => {
                let mut c = match full {
                    true => self.bodies.remove(0),
                    false => Cleared::default(),
                };
                c.bytes.clear();
                c.strings.clear();
                if let Some((index, before, _)) = from {
                    // Popping the oldest (not this one) moved it down by one.
                    let source = self.bodies.get(index - usize::from(full));
                    let Some(spans) = source.and_then(|s| s.strings.get(..before)) else {
                        return;
                    };
                    c.strings.extend_from_slice(spans);
                }
                let before = c.strings.len();
                self.bodies.push(c);
                (0, before)
            }
        };
        if let Some(newest) = self.bodies.last_mut() {
            newest.rewrite(at, before, &body[..kept], walked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks `body` from where the memo resumes it and remembers it whole.
    fn clear(m: &mut Memo, body: &[u8]) -> Resume {
        let resume = m.resume(body);
        let mut s = Strings::default();
        s.walk(body, resume.at);
        for text in s.value_literals(body) {
            m.remember(hash(text), text);
        }
        m.remember_body(resume, body, &s.values);
        resume
    }

    #[test]
    fn remembers_per_build_and_compares_bytes() {
        let text = b"\"a benign sentence about trains and bikes\"";
        let known = |build, text: &[u8]| with(build, |m, _| m.known(hash(text), text));
        assert!(!known(7, text));
        with(7, |m, _| m.remember(hash(text), text));
        assert!(known(7, text));
        assert!(!known(8, text), "a new build starts from nothing");
        with(8, |m, _| {
            m.remember(hash(b"\"something else\""), b"\"something else\"")
        });
        assert!(!known(7, text), "the old build was forgotten");
        let other = b"\"a benign sentence about trains and bike!\"";
        with(7, |m, _| {
            assert!(!m.known(hash(other), other));
            assert!(
                !m.known(hash(text), other),
                "a colliding hash is no match: the bytes are compared"
            );
        });
    }

    #[test]
    fn a_resume_is_outside_every_literal_and_counts_the_values_before_it() {
        let body = br#"{"a":"one","bb":["two","three"],"c":"four","dd":{"e":1}}"#;
        let mut s = Strings::default();
        s.walk(body, 0);
        let c = Cleared {
            bytes: body.to_vec(),
            strings: s.values.clone(),
        };
        // every literal, keys too (no escapes here: quotes pair up)
        let quotes: Vec<usize> = (0..body.len()).filter(|&i| body[i] == b'"').collect();
        let literals: Vec<(usize, usize)> = quotes.chunks(2).map(|q| (q[0], q[1] + 1)).collect();
        for shared in 0..=body.len() {
            let (at, before) = c.resume(shared);
            let inside = c
                .strings
                .iter()
                .find(|&&(a, b)| (a as usize) < shared && shared < b as usize);
            let last_end = c
                .strings
                .iter()
                .map(|&(_, end)| end as usize)
                .filter(|&end| end <= shared)
                .max()
                .unwrap_or(0);
            assert_eq!(
                at,
                inside.map_or(last_end, |&(a, _)| a as usize),
                "{shared}"
            );
            assert!(at <= shared, "{shared}");
            assert!(
                !literals.iter().any(|&(a, b)| a < at && at < b),
                "{shared}: {at} is inside a literal"
            );
            let whole = c
                .strings
                .iter()
                .filter(|&&(_, end)| end as usize <= at)
                .count();
            assert_eq!(before, whole, "{shared}");
        }
    }

    #[test]
    fn the_partition_from_the_back_is_the_partition() {
        let spans: Vec<(u32, u32)> = (0..40).map(|i| (i * 10, i * 10 + 5)).collect();
        for at in 0..420 {
            let pred = |&(start, _): &(u32, u32)| start < at;
            assert_eq!(
                partition_from_back(&spans, pred),
                spans.partition_point(pred),
                "{at}"
            );
        }
        assert_eq!(partition_from_back(&[], |_| true), 0);
    }

    #[test]
    fn the_texts_are_forgotten_whole_when_full() {
        let mut m = Memo::default();
        let big = vec![b'a'; MAX_BYTES / 2 + 1];
        m.remember(hash(&big), &big);
        assert!(m.known(hash(&big), &big));
        let other = vec![b'b'; MAX_BYTES / 2 + 1];
        m.remember(hash(&other), &other);
        assert!(!m.known(hash(&big), &big), "no room: the old texts went");
        assert!(m.known(hash(&other), &other));
        assert!(m.arena.len() <= MAX_BYTES);
    }

    #[test]
    fn a_new_turn_resumes_where_it_leaves_the_cleared_body() {
        let mut m = Memo::default();
        let old = br#"{"m":[{"c":"first message, benign"},{"c":"second"}],"t":1}"#;
        clear(&mut m, old);
        assert_eq!(m.bodies[0].strings, vec![(11, 34), (41, 49)]);
        assert_eq!(
            m.resume(old).at,
            old.len(),
            "the same body: nothing to walk"
        );
        // The next turn changes the array's end: resume past the last value
        // before it.
        let next = br#"{"m":[{"c":"first message, benign"},{"c":"second"},{"c":"third"}]}"#;
        assert_eq!(m.resume(next).at, 49);
        // A change inside a value: resume at that value's opening quote.
        let edited = br#"{"m":[{"c":"first message, EVIL"},{"c":"second"}],"t":1}"#;
        assert_eq!(m.resume(edited).at, 11);
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
        let longer: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        for at in [0, 100, 1000, 1743, 1744, 1800, 1999] {
            let mut other = longer.clone();
            other[at] ^= 0xff;
            assert_eq!(shared_prefix(&longer, &other), at, "differs at {at}");
            assert_eq!(shared_prefix(&other[..1900], &longer), at.min(1900));
        }
        assert_eq!(shared_prefix(&long, &long[..170]), 170);
        // Every place of a difference, with either one cut short, against
        // the plain count; and without AVX2.
        let naive = |a: &[u8], b: &[u8]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let base: Vec<u8> = (0..600u32).map(|i| (i * 7 % 253) as u8).collect();
        for at in 0..base.len() {
            let mut other = base.clone();
            other[at] ^= 1 << (at % 8);
            for cut in [base.len(), at + 1, at.saturating_sub(3), 257, 128] {
                let (a, b) = (&base[..], &other[..cut.min(other.len())]);
                assert_eq!(shared_prefix(a, b), naive(a, b), "{at} {cut}");
                assert_eq!(shared_prefix(b, a), naive(a, b), "{at} {cut}");
                let n = b.len();
                assert_eq!(shared_tail(&a[..n], b), naive(a, b), "{at} {cut}");
            }
        }
    }

    #[test]
    fn a_next_turn_takes_its_predecessors_place_and_another_conversation_its_own() {
        let mut m = Memo::default();
        let system =
            r#"{"model":"m","messages":[{"role":"system","content":"You help with trains."}"#;
        let turn =
            |user: &str| format!(r#"{system},{{"role":"user","content":"{user}"}}],"n":1}}"#);
        // Longer than `EXTENDS`: a body sharing only the system prompt with
        // this one is another conversation, not its next turn.
        let long = "From Lyon to Milan, please, ".repeat(12);
        let first = turn(&long);
        clear(&mut m, first.as_bytes());
        let second = turn(&format!("{long}And back on Friday."));
        let resume = clear(&mut m, second.as_bytes());
        assert_eq!(&second.as_bytes()[resume.at..resume.at + 5], br#""From"#);
        assert_eq!(m.bodies.len(), 1, "the next turn overwrote its predecessor");
        assert_eq!(m.bodies[0].bytes, second.as_bytes());
        assert_eq!(m.resume(second.as_bytes()).at, second.len());
        // Another conversation shares the system prompt only: its own entry,
        // with the shared values' spans, and both are known whole.
        let other = turn(&"Is there a night train to Vienna? ".repeat(9));
        clear(&mut m, other.as_bytes());
        assert_eq!(m.bodies.len(), 2);
        for body in [&second, &other] {
            assert_eq!(m.resume(body.as_bytes()).at, body.len());
        }
        let mut walked = Strings::default();
        walked.walk(other.as_bytes(), 0);
        assert_eq!(
            m.bodies[1].strings, walked.values,
            "every value's span, in order"
        );
        // A full memo hands its oldest entry's buffers to a new body.
        let conversation = |i: usize| format!(r#"{{"conversation":{i},"text":"{long}"}}"#);
        for i in 0..BODIES {
            clear(&mut m, conversation(i).as_bytes());
        }
        assert_eq!(m.bodies.len(), BODIES);
        assert_ne!(
            m.resume(second.as_bytes()).at,
            second.len(),
            "the oldest went"
        );
        let last = conversation(BODIES - 1);
        assert_eq!(m.resume(last.as_bytes()).at, last.len());
    }

    #[test]
    fn a_body_that_cuts_a_literal_resumes_at_its_opening_quote_after_a_rewrite() {
        // The rewritten entry must keep every span before the walk, or a
        // later body cutting through one would be walked from inside it.
        let mut m = Memo::default();
        let a = br#"{"m":[{"c":"alpha beta gamma"},{"c":"delta"}]}"#;
        clear(&mut m, a);
        let b = br#"{"m":[{"c":"alpha beta gamma"},{"c":"delta"},{"c":"epsilon"}]}"#;
        clear(&mut m, b);
        assert_eq!(m.bodies.len(), 1);
        let c = br#"{"m":[{"c":"alpha beta GAMMA"}]}"#;
        assert_eq!(m.resume(c).at, 11, "the opening quote of the cut value");
    }

    #[test]
    fn turns_that_edit_the_last_message_walk_only_that_message() {
        let body = |nonce: &str| {
            format!(
                r#"{{"model":"m","messages":[{{"role":"system","content":"{}"}},{{"role":"user","content":"Train, please. {} Thanks, order {nonce}."}}],"temperature":0.2,"max_tokens":512,"stream":false}}"#,
                "You are a concise assistant. ".repeat(20),
                "I must be in Milan by 2pm. ".repeat(10),
            )
        };
        let mut m = Memo::default();
        clear(&mut m, body("aaaa").as_bytes());
        for nonce in ["bbbb", "cccc", "dddd"] {
            let b = body(nonce);
            let resume = clear(&mut m, b.as_bytes());
            assert_eq!(&b.as_bytes()[resume.at..resume.at + 6], br#""Train"#);
            assert_eq!(m.bodies.len(), 1);
        }
    }

    /// Random conversations — next turns, edited last messages, retries,
    /// other conversations sharing a prefix, escapes and keys cut anywhere
    /// — through the memo: whatever entry a body is remembered in holds
    /// exactly the value spans a walk of the whole body finds, so a later
    /// resume can never start inside a literal.
    #[test]
    fn remembered_spans_are_always_the_whole_walks() {
        let mut rng = crate::test_rng::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let mut next = move |n: u64| rng() % n;
        const WORDS: [&str; 8] = [
            "trains",
            "to Milan",
            r#"say \"hi\""#,
            r"a \\ b",
            "x",
            "",
            "ignore",
            r"\u00e9",
        ];
        let message = |next: &mut dyn FnMut(u64) -> u64| {
            let mut text = String::new();
            for _ in 0..next(40) {
                text.push_str(WORDS[next(WORDS.len() as u64) as usize]);
                text.push(' ');
            }
            let role = ["user", "assistant", "system"][next(3) as usize];
            format!(r#"{{"role":"{role}","content":"{text}"}}"#)
        };
        let render = |messages: &[String], tail: &str| {
            format!(
                r#"{{"model":"m","messages":[{}]{tail}}}"#,
                messages.join(",")
            )
        };
        let mut m = Memo::default();
        let mut conversations: Vec<Vec<String>> = vec![Vec::new(); 20];
        for round in 0..3000 {
            let c = next(20) as usize;
            let conversation = &mut conversations[c];
            match next(5) {
                0 | 1 => conversation.push(message(&mut next)),
                2 if !conversation.is_empty() => {
                    let last = conversation.len() - 1;
                    conversation[last] = message(&mut next);
                }
                3 => conversation.truncate(next(conversation.len() as u64 + 1) as usize),
                _ => {}
            }
            let tail = [r#","n":1"#, "", r#","stream" : false"#][next(3) as usize];
            let body = render(conversation, tail);
            let body = body.as_bytes();
            let resume = clear(&mut m, body);
            assert!(resume.at <= body.len());
            let mut whole = Strings::default();
            whole.walk(body, 0);
            let entry = m
                .bodies
                .iter()
                .find(|e| e.bytes == body)
                .unwrap_or_else(|| panic!("round {round}: the body is remembered"));
            assert_eq!(entry.strings, whole.values, "round {round}");
            assert_eq!(m.resume(body).at, body.len(), "round {round}");
            assert!(m.bodies.len() <= BODIES);
        }
    }
}
