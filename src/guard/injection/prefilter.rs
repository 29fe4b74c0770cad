//! The cheap test over raw JSON (a body, or one string literal) that lets
//! benign text skip decoding and scanning. Conservative: it answers "maybe"
//! whenever some text decoded from it could reach the threshold — any
//! non-ASCII byte or `\u` escape (homoglyphs, invisibles and NFKC can make
//! anchors appear), a percent escape, an encoded run `scan` would decode, or
//! enough rule weight among the anchor words present.
//!
//! One pass over 16-byte blocks (`block.rs`): plain prose — letters, spaces,
//! `",.:` — costs a few vector instructions per block. Only a letter that
//! starts a word is looked up, in a table of anchors keyed by its first two
//! bytes; the rare other bytes (`\`, `%`, `+/=`, `<[#!-*`) and digits are
//! handled one by one.

mod block;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use std::ops::ControlFlow;

use super::{decode, rules};
use block::WIDTH;

/// Sums taken in another order than `scan`'s may round differently; a text
/// this close to the threshold is scanned.
const SLACK: f32 = 1e-4;
/// Two bytes, five bits each, pick an anchor's bucket.
const BUCKETS: usize = 1 << 10;

pub(crate) struct Prefilter {
    anchors: Anchors,
    rule_weight: Vec<f32>,
    /// Weight that needs no anchor: operator rules.
    unanchored: f32,
    /// A tool-name mention's weight, possible only when the body declares
    /// tools (`"tools"`, or the legacy `"functions"`).
    tool_weight: f32,
    threshold: f32,
}

impl Prefilter {
    /// `rules` holds each anchored rule's weight and anchor words.
    pub(crate) fn new(
        rules: &[(f32, &[&str])],
        unanchored: f32,
        tool_weight: f32,
        threshold: f32,
    ) -> Result<Prefilter, String> {
        Ok(Prefilter {
            anchors: Anchors::new(rules)?,
            rule_weight: rules.iter().map(|(w, _)| *w).collect(),
            unanchored,
            tool_weight,
            threshold: threshold - SLACK,
        })
    }

    pub(crate) fn may_match(&self, raw: &[u8]) -> bool {
        self.may_match_part(raw, None)
    }

    /// `raw` is the body, or one part of it (a JSON string literal, quotes
    /// included) whose body declares tools or not (`Some`).
    pub(crate) fn may_match_part(&self, raw: &[u8], tools_declared: Option<bool>) -> bool {
        if self.unanchored >= self.threshold || !raw.is_ascii() {
            return true;
        }
        let mut pass = Pass {
            prefilter: self,
            raw,
            possible: self.unanchored,
            found: 0,
            short_run: false,
            last_run: 0..0,
        };
        if pass.blocks().is_break() {
            return true;
        }
        // the tools' weight last: most bodies end too light to need the look
        self.tool_weight > 0.0
            && pass.possible + self.tool_weight >= self.threshold
            && tools_declared.unwrap_or_else(|| declares_tools(raw))
    }
}

/// One `may_match` call's running state.
struct Pass<'a> {
    prefilter: &'a Prefilter,
    raw: &'a [u8],
    possible: f32,
    /// Rules whose anchor was seen, one bit each.
    found: u64,
    short_run: bool,
    /// The last encoded run measured: its other marks need no new look.
    last_run: std::ops::Range<usize>,
}

impl Pass<'_> {
    /// `Break` as soon as the body may reach the threshold.
    fn blocks(&mut self) -> ControlFlow<()> {
        let raw = self.raw;
        let mut word_before = false;
        for (index, chunk) in raw.chunks(WIDTH).enumerate() {
            let mut block = [b' '; WIDTH];
            block[..chunk.len()].copy_from_slice(chunk);
            let masks = block::classify(&block);
            let base = index * WIDTH;
            let starts = masks.alpha & !((masks.word << 1) | u32::from(word_before));
            word_before = masks.word & (1 << (WIDTH - 1)) != 0;
            for i in ones(starts) {
                self.anchors_at(base + i)?;
            }
            for i in ones(masks.other) {
                self.rare_byte_at(base + i)?;
            }
            for i in ones(masks.digit) {
                self.mark_at(base + i)?;
            }
        }
        ControlFlow::Continue(())
    }

    fn anchors_at(&mut self, at: usize) -> ControlFlow<()> {
        let rules = self.prefilter.anchors.rules_at(self.raw, at) & !self.found;
        if rules == 0 {
            return ControlFlow::Continue(());
        }
        self.found |= rules;
        for rule in ones(rules) {
            self.possible += self.prefilter.rule_weight.get(rule).copied().unwrap_or(0.0);
        }
        self.verdict()
    }

    /// `\u` and `%XX` make the decoded text unknowable here; a letter that
    /// ends a JSON escape (`\nSystem:`) starts a word once decoded.
    fn rare_byte_at(&mut self, at: usize) -> ControlFlow<()> {
        let raw = self.raw;
        let hex = |i: usize| raw.get(i).is_some_and(u8::is_ascii_hexdigit);
        match raw.get(at) {
            Some(b'\\') => match raw.get(at + 1) {
                Some(b'u') => ControlFlow::Break(()),
                Some(b'n' | b't' | b'r' | b'b' | b'f')
                    if raw.get(at + 2).is_some_and(u8::is_ascii_alphabetic) =>
                {
                    self.anchors_at(at + 2)
                }
                _ => ControlFlow::Continue(()),
            },
            Some(b'%') if hex(at + 1) && hex(at + 2) => ControlFlow::Break(()),
            Some(b'+' | b'/' | b'=') => self.mark_at(at),
            Some(&b) if self.prefilter.anchors.opens_punctuation(b) => self.anchors_at(at),
            _ => ControlFlow::Continue(()),
        }
    }

    /// A byte a candidate run must hold (a digit or `+/=`, which plain prose
    /// rarely has): the run around it is measured as `decode` measures it.
    /// A JSON-escaped slash (`\/`) continues a run, as it does once decoded.
    fn mark_at(&mut self, at: usize) -> ControlFlow<()> {
        if self.last_run.contains(&at) {
            return ControlFlow::Continue(());
        }
        let raw = self.raw;
        let start = (0..at)
            .rev()
            .find(|&i| !in_run(raw, i))
            .map_or(0, |i| i + 1);
        let end = (at..raw.len())
            .find(|&i| !in_run(raw, i))
            .unwrap_or(raw.len());
        self.last_run = start..end;
        let len = end - start;
        if len >= decode::LONG_RUN {
            return ControlFlow::Break(());
        }
        if len >= decode::SHORT_RUN && !self.short_run {
            // a short run can only add the short-text weight, once
            self.short_run = true;
            self.possible += rules::SHORT_ENCODED_TEXT_WEIGHT;
            return self.verdict();
        }
        ControlFlow::Continue(())
    }

    fn verdict(&self) -> ControlFlow<()> {
        if self.possible >= self.prefilter.threshold {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The anchor words, bucketed by their first two bytes.
struct Anchors {
    /// Bucket → its range in `entries`.
    buckets: Vec<(u16, u16)>,
    entries: Vec<Anchor>,
    /// Non-letter bytes that open an anchor (`<system`, `![`), one bit each:
    /// such an anchor needs no word start.
    punctuation: u128,
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
    fn new(rules: &[(f32, &[&str])]) -> Result<Anchors, String> {
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
        let mut buckets = vec![(0u16, 0u16); BUCKETS];
        let mut punctuation = 0u128;
        let mut entries = Vec::with_capacity(words.len());
        for (at, (word, mask)) in words.iter().enumerate() {
            let bucket = &mut buckets[key(word.as_bytes())];
            if bucket.1 == 0 {
                bucket.0 =
                    u16::try_from(at).map_err(|_| "injection prefilter: too many anchors")?;
            }
            bucket.1 += 1;
            let first = word.as_bytes()[0];
            if !first.is_ascii_alphabetic() {
                punctuation |= 1 << first;
            }
            entries.push(Anchor::new(word, *mask));
        }
        Ok(Anchors {
            buckets,
            entries,
            punctuation,
        })
    }

    fn opens_punctuation(&self, b: u8) -> bool {
        b < 128 && self.punctuation & (1 << b) != 0
    }

    /// The rules of every anchor that starts at `raw[at]`.
    fn rules_at(&self, raw: &[u8], at: usize) -> u64 {
        let rest = raw.get(at..).unwrap_or_default();
        let (start, count) = self.buckets[key(rest)];
        let Some(bucket) = self
            .entries
            .get(usize::from(start)..usize::from(start) + usize::from(count))
        else {
            return 0;
        };
        let head = head_word(rest);
        bucket
            .iter()
            .filter(|a| a.matches(head, rest) && !(a.structural && quoted(raw, at, at + a.len)))
            .fold(0, |found, a| found | a.rules)
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
/// a byte `block.rs` counts as rare, or the pass would never look at it.
fn check_anchor(word: &str) -> Result<(), String> {
    let rare =
        |b: u8| !b.is_ascii_alphanumeric() && !matches!(b, b'_' | b' ' | b'"' | b',' | b'.' | b':');
    match word.as_bytes() {
        [first, _, ..] if word.is_ascii() && (first.is_ascii_alphabetic() || rare(*first)) => {
            Ok(())
        }
        _ => Err(format!("injection prefilter: unusable anchor `{word}`")),
    }
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
        None => {
            let mut head = [0u8; 8];
            head[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(head)
        }
    }
}

/// Positions of the set bits, lowest first.
fn ones(bits: impl Into<u64>) -> impl Iterator<Item = usize> {
    let mut bits: u64 = bits.into();
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            i
        })
    })
}

fn declares_tools(raw: &[u8]) -> bool {
    memchr::memmem::find(raw, br#""tools""#).is_some()
        || memchr::memmem::find(raw, br#""functions""#).is_some()
}

/// Whether `raw[start..end]` is a whole JSON string.
fn quoted(raw: &[u8], start: usize, end: usize) -> bool {
    start > 0 && raw.get(start - 1) == Some(&b'"') && raw.get(end) == Some(&b'"')
}

/// Whether `raw[i]` belongs to an encoded run, counting both bytes of `\/`.
fn in_run(raw: &[u8], i: usize) -> bool {
    match raw.get(i) {
        Some(b'\\') => raw.get(i + 1) == Some(&b'/'),
        Some(b'/') => true,
        Some(&b) => decode::is_run_byte(b),
        None => false,
    }
}
