//! The anchor words, and the two looks the pass takes at a word start: a
//! 4 KB bitset of the first four bytes of every anchor (one load and one
//! bit test; most words stop there), then the anchors of the start's
//! bucket, keyed by its first two bytes, compared one by one.

use super::super::rules;
use super::block::{OPENERS, padded};

/// Two bytes, five bits each, pick an anchor's bucket.
const BUCKETS: usize = 1 << 10;
/// Bits in the three-byte filter: 4 KB.
const FILTER_BITS: u32 = 15;
/// Odd, with its set bits spread: the product's top bits mix all four
/// bytes' five bits.
const FILTER_HASH: u32 = 0x9E37_79B1;
/// The five low bits of each of four bytes: ASCII letters fold to their
/// place in the alphabet, whatever their case.
const FOLD4: u32 = 0x1F1F_1F1F;
/// Every value a byte can take once folded.
const FOLDED: std::ops::Range<u8> = 0..32;

pub(super) struct Anchors {
    /// Bit `hash(first four bytes)` set for every anchor that starts with
    /// a letter; a shorter anchor sets the bits of every byte after it.
    filter: [u64; 1 << (FILTER_BITS - 6)],
    /// Bucket → its range in `entries`.
    buckets: Vec<(u16, u16)>,
    entries: Vec<Anchor>,
    /// Non-letter bytes that open an anchor (`<system`, `![`), one bit each:
    /// such an anchor needs no word start.
    punctuation: u128,
    /// The fewest word bytes (letters and `_`) a letter-led anchor opens
    /// with (at most 3): a shorter word cannot hold one.
    min_word: usize,
}

/// One anchor word, merged across the rules that share it.
struct Anchor {
    /// The first eight bytes, lowercase, as a little-endian word.
    head: u64,
    /// `0x20` on the head's letters: or-ing it into the text folds case.
    fold: u64,
    /// The head's bytes.
    mask: u64,
    /// Lowercase bytes after the eighth.
    tail: Box<[u8]>,
    len: usize,
    /// Also a JSON structure word: a whole quoted string is no hit.
    structural: bool,
    rules: u64,
}

impl Anchors {
    /// `rules` holds each anchored rule's anchor words, at most 64 rules.
    pub(super) fn new(rules: &[(f32, &[&str])]) -> Result<Anchors, String> {
        if rules.len() > 64 {
            return Err("injection prefilter: more than 64 anchored rules".into());
        }
        let mut words: Vec<(String, u64)> = Vec::new();
        for (index, (_, anchors)) in rules.iter().enumerate() {
            for word in anchors.iter() {
                let word = word.to_ascii_lowercase();
                check_anchor(&word)?;
                match words.iter_mut().find(|(w, _)| *w == word) {
                    Some((_, mask)) => *mask |= 1 << index,
                    None => words.push((word, 1 << index)),
                }
            }
        }
        words.sort_by_key(|(w, _)| key(w.as_bytes()));
        let mut anchors = Anchors {
            filter: [0; 1 << (FILTER_BITS - 6)],
            buckets: vec![(0, 0); BUCKETS],
            entries: Vec::with_capacity(words.len()),
            punctuation: 0,
            min_word: 3,
        };
        for (word, mask) in &words {
            anchors.add(word, *mask)?;
        }
        Ok(anchors)
    }

    /// Words come in bucket order, so a bucket's entries are contiguous.
    fn add(&mut self, word: &str, rules: u64) -> Result<(), String> {
        let bytes = word.as_bytes();
        let at = u16::try_from(self.entries.len())
            .map_err(|_| "injection prefilter: too many anchors")?;
        let bucket = &mut self.buckets[key(bytes)];
        if bucket.1 == 0 {
            bucket.0 = at;
        }
        bucket.1 += 1;
        if bytes.first().is_some_and(u8::is_ascii_alphabetic) {
            let word = bytes
                .iter()
                .take_while(|&&b| b.is_ascii_alphabetic() || b == b'_')
                .count();
            self.min_word = self.min_word.min(word);
        }
        match bytes {
            [first, ..] if !first.is_ascii_alphabetic() => self.punctuation |= 1 << first,
            [a, b] => {
                for (c, d) in FOLDED.flat_map(|c| FOLDED.map(move |d| (c, d))) {
                    self.set_filter(u32::from_le_bytes([*a, *b, c, d]));
                }
            }
            [a, b, c] => {
                for d in FOLDED {
                    self.set_filter(u32::from_le_bytes([*a, *b, *c, d]));
                }
            }
            [a, b, c, d, ..] => self.set_filter(u32::from_le_bytes([*a, *b, *c, *d])),
            _ => {}
        }
        self.entries.push(Anchor::new(word, rules));
        Ok(())
    }

    fn set_filter(&mut self, first4: u32) {
        let bit = filter_bit(first4);
        self.filter[bit >> 6] |= 1 << (bit & 63);
    }

    /// False when no anchor starts with the four bytes of `first4` (little
    /// endian; zeros past the text's end): the word needs no closer look.
    pub(super) fn may_start(&self, first4: u32) -> bool {
        let bit = filter_bit(first4);
        self.filter[bit >> 6] & (1 << (bit & 63)) != 0
    }

    /// The word starts among `starts` (bits of one step, `word` its
    /// letters and `_`) whose word is long enough to open an anchor. A
    /// byte folds to a letter only if it is one, so a word shorter than
    /// every anchor's opening letters and `_` holds none. The bytes after
    /// the step are not known here: they count as word bytes.
    #[inline(always)]
    pub(super) fn long_enough(&self, starts: u64, word: u64) -> u64 {
        let second = word >> 1 | 1 << 63;
        let third = word >> 2 | 3 << 62;
        match self.min_word {
            3.. => starts & second & third,
            2 => starts & second,
            _ => starts,
        }
    }

    pub(super) fn opens_punctuation(&self, b: u8) -> bool {
        b < 128 && self.punctuation & (1 << b) != 0
    }

    /// The rules of every anchor that starts at `raw[at]`.
    pub(super) fn rules_at(&self, raw: &[u8], at: usize) -> u64 {
        let rest = raw.get(at..).unwrap_or_default();
        let (start, count) = self.buckets[key(rest)];
        let (start, count) = (usize::from(start), usize::from(count));
        let head = head_word(rest);
        let mut found = 0;
        for anchor in self.entries.get(start..start + count).unwrap_or_default() {
            if anchor.matches(head, rest) && !(anchor.structural && quoted(raw, at, anchor.len)) {
                found |= anchor.rules;
            }
        }
        found
    }
}

impl Anchor {
    fn new(word: &str, rules: u64) -> Anchor {
        let bytes = word.as_bytes();
        let head_len = bytes.len().min(8);
        let mut head = [0u8; 8];
        let mut fold = [0u8; 8];
        let mut mask = [0u8; 8];
        for i in 0..head_len {
            head[i] = bytes[i];
            mask[i] = 0xFF;
            if bytes[i].is_ascii_lowercase() {
                fold[i] = 0x20;
            }
        }
        Anchor {
            head: u64::from_le_bytes(head),
            fold: u64::from_le_bytes(fold),
            mask: u64::from_le_bytes(mask),
            tail: bytes[head_len..].into(),
            len: bytes.len(),
            structural: rules::STRUCTURAL.contains(&word),
            rules,
        }
    }

    /// Whether `rest` starts with this anchor, ASCII case-insensitively.
    fn matches(&self, head: u64, rest: &[u8]) -> bool {
        (head | self.fold) & self.mask == self.head
            && (self.tail.is_empty()
                || rest
                    .get(8..self.len)
                    .is_some_and(|t| t.eq_ignore_ascii_case(&self.tail)))
    }
}

/// An anchor must be ASCII, two bytes at least, and start with a letter or
/// one of `block::OPENERS`, or the pass would never look at it; and hold
/// no `"`: a literal's pass may read on past its closing quote
/// (`Prefilter::may_match_in`), where an anchor must not go on matching.
fn check_anchor(word: &str) -> Result<(), String> {
    match word.as_bytes() {
        [first, _, ..]
            if word.is_ascii()
                && !word.contains('"')
                && (first.is_ascii_alphabetic() || OPENERS.contains(first)) =>
        {
            Ok(())
        }
        _ => Err(format!("injection prefilter: unusable anchor `{word}`")),
    }
}

/// Multiply-shift over the four bytes' five low bits: equal bytes up to
/// ASCII case give the same bit. Collisions only cost a closer look.
fn filter_bit(first4: u32) -> usize {
    ((first4 & FOLD4).wrapping_mul(FILTER_HASH) >> (32 - FILTER_BITS)) as usize
}

/// The bucket of the text at `bytes`: five bits of each of its first two
/// bytes, case folded.
fn key(bytes: &[u8]) -> usize {
    let fold = |i: usize| usize::from(bytes.get(i).map_or(0, |b| (b | 0x20) & 31));
    fold(0) << 5 | fold(1)
}

/// The first eight bytes as a little-endian word, zeros past the end.
fn head_word(rest: &[u8]) -> u64 {
    match rest.first_chunk::<8>() {
        Some(head) => u64::from_le_bytes(*head),
        None => u64::from_le_bytes(padded(rest)),
    }
}

/// Whether the `len` bytes at `raw[start]` are a whole JSON string.
fn quoted(raw: &[u8], start: usize, len: usize) -> bool {
    start > 0 && raw.get(start - 1) == Some(&b'"') && raw.get(start + len) == Some(&b'"')
}

#[cfg(test)]
mod tests {
    use super::super::super::rules::BUILTIN;
    use super::*;

    /// The filter may let a word through for nothing, but never stops one
    /// that starts an anchor, in any case, at the end of the text or not.
    #[test]
    fn the_filter_passes_every_anchor_in_any_case() {
        let rules: Vec<(f32, &[&str])> = BUILTIN.iter().map(|r| (r.weight, r.anchors)).collect();
        let anchors = Anchors::new(&rules).expect("builds");
        for word in BUILTIN.iter().flat_map(|r| r.anchors.iter()) {
            for text in [word.to_ascii_lowercase(), word.to_ascii_uppercase()] {
                for tail in ["", "x", " more"] {
                    let raw = format!("{text}{tail}");
                    let mut first4 = [0u8; 4];
                    for (b, t) in first4.iter_mut().zip(raw.bytes()) {
                        *b = t;
                    }
                    let first4 = u32::from_le_bytes(first4);
                    let starts = word.as_bytes()[0].is_ascii_alphabetic();
                    assert!(!starts || anchors.may_start(first4), "{raw:?}");
                    assert_ne!(anchors.rules_at(raw.as_bytes(), 0), 0, "{raw:?}");
                }
            }
        }
    }

    #[test]
    fn the_filter_stops_most_plain_words() {
        let rules: Vec<(f32, &[&str])> = BUILTIN.iter().map(|r| (r.weight, r.anchors)).collect();
        let anchors = Anchors::new(&rules).expect("builds");
        // each shares its first three letters with an anchor
        let plain = [
            "content",
            "one ",
            "for ",
            "reference",
            "prices",
            "about",
            "work",
        ];
        for word in plain {
            let mut first4 = [0u8; 4];
            first4.copy_from_slice(&word.as_bytes()[..4]);
            assert!(!anchors.may_start(u32::from_le_bytes(first4)), "{word}");
        }
    }
}
