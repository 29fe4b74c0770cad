//! The cheap test over raw JSON (a body, or one string literal) that lets
//! benign text skip decoding and scanning. Conservative: it answers "maybe"
//! whenever some text decoded from it could reach the threshold — any
//! non-ASCII byte or `\u` escape (homoglyphs, invisibles and NFKC can make
//! anchors appear), a percent escape, an encoded run `scan` would decode, or
//! enough rule weight among the anchor words present.
//!
//! One pass, 64 bytes a step (`block.rs`, AVX2 where the CPU has it): plain
//! prose — letters, spaces, `",.:` — costs a few vector instructions per
//! step. A letter that starts a word is tested against a bitset of the
//! anchors' first four bytes, and looked up among the anchors only when it
//! passes (`anchors.rs`); the rare other bytes (`\`, `%`, `+/=`, `<[#!-*`,
//! digits) are handled one by one. The bytes after the last whole step are
//! classed as one more step, overlapping or padded.

mod anchors;
mod block;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use std::ops::ControlFlow;

use super::{decode, rules};
use crate::canonical::json_scan::declares_tools;
use crate::guard::text::PiiLook;
use anchors::Anchors;
use block::{Classify, LOOKAHEAD, STEP, Scan};

/// Sums taken in another order than `scan`'s may round differently; a text
/// this close to the threshold is scanned.
const SLACK: f32 = 1e-4;

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
        self.may_match_part(raw, None, PiiLook::default())
    }

    /// `may_match_part` for the first `len` bytes of `raw`, a string
    /// literal inside its body (`raw` goes on to the body's end). Its last
    /// step is read from the body, not copied: every look past the literal
    /// meets its closing quote first, which no anchor, run or escape
    /// crosses, so the answer is `may_match_part(&raw[..len], ..)`'s.
    pub(crate) fn may_match_in(
        &self,
        raw: &[u8],
        len: usize,
        tools_declared: bool,
        pii: PiiLook,
    ) -> bool {
        self.pass(raw, len.min(raw.len()), Some(tools_declared), pii)
    }

    /// `raw` is the body, or one part of it (a JSON string literal, quotes
    /// included) whose body declares tools or not (`Some`). With `pii`,
    /// the same pass also answers for the PII request prefilter: true as
    /// well when `raw` holds what it looks for (the bytes it needs are
    /// among those this pass visits one by one).
    pub(crate) fn may_match_part(
        &self,
        raw: &[u8],
        tools_declared: Option<bool>,
        pii: PiiLook,
    ) -> bool {
        self.pass(raw, raw.len(), tools_declared, pii)
    }

    /// The pass over `raw[..len]`, reading on past `len` where it can.
    fn pass(&self, raw: &[u8], len: usize, tools_declared: Option<bool>, pii: PiiLook) -> bool {
        if self.unanchored >= self.threshold {
            return true;
        }
        let mut pass = Pass {
            prefilter: self,
            raw,
            len,
            possible: self.unanchored,
            found: 0,
            short_run: false,
            last_run: 0..0,
            pii,
            digits: Digits::default(),
        };
        if block::run(&mut pass).is_break() {
            return true;
        }
        // the tools' weight last: most bodies end too light to need the look
        self.tool_weight > 0.0
            && pass.possible + self.tool_weight >= self.threshold
            && tools_declared.unwrap_or_else(|| declares_tools(&raw[..len]))
    }
}

/// One `may_match` call's running state.
struct Pass<'a> {
    prefilter: &'a Prefilter,
    /// The text is `raw[..len]`; what follows, if anything, is only read.
    raw: &'a [u8],
    len: usize,
    possible: f32,
    /// Rules whose anchor was seen, one bit each.
    found: u64,
    short_run: bool,
    /// The last encoded run measured: its other marks need no new look.
    last_run: std::ops::Range<usize>,
    /// What the PII prefilter looks for, when this pass answers for it.
    pii: PiiLook,
    digits: Digits,
}

/// Where the last five digits were: a sixth within eight bytes of the
/// fifth before it makes six of eight bytes digits, the PII prefilter's
/// dense run.
#[derive(Default)]
struct Digits {
    /// Places as `u32`, wrapping: only differences below 8 are asked.
    at: [u32; 5],
    /// The oldest of the five (the next to be replaced).
    slot: usize,
    /// Five digits were seen.
    full: bool,
}

impl Digits {
    /// A digit at `at` (after every digit seen before): whether it ends a
    /// dense run.
    fn dense_at(&mut self, at: usize) -> bool {
        let at = at as u32;
        let slot = self.slot.min(4);
        if self.full && at.wrapping_sub(self.at[slot]) < 8 {
            return true;
        }
        self.at[slot] = at;
        self.full |= slot == 4;
        self.slot = if slot == 4 { 0 } else { slot + 1 };
        false
    }
}

impl Scan for &mut Pass<'_> {
    type Output = ControlFlow<()>;

    #[inline(always)]
    fn scan<C: Classify>(self, classify: C) -> ControlFlow<()> {
        self.blocks(classify)
    }
}

impl Pass<'_> {
    /// `Break` as soon as the body may reach the threshold: on the first
    /// non-ASCII byte, or once the bytes seen weigh enough.
    #[inline(always)]
    fn blocks(&mut self, classify: impl Classify) -> ControlFlow<()> {
        let (raw, len) = (self.raw, self.len);
        let mut at = 0;
        // whether the byte before `at` is a letter
        let mut carry = 0;
        while at + STEP <= len
            && let Some(window) = raw
                .get(at..)
                .and_then(<[u8]>::first_chunk::<{ STEP + LOOKAHEAD }>)
        {
            let Some((step, _)) = window.split_first_chunk::<STEP>() else {
                break;
            };
            let masks = classify.step(step);
            if masks.high != 0 {
                return ControlFlow::Break(());
            }
            let starts = masks.alpha & !(masks.alpha << 1 | carry);
            let starts = self.prefilter.anchors.long_enough(starts, masks.word);
            carry = masks.alpha >> (STEP - 1);
            self.words(starts, at, |i| first4(window.get(i..)))?;
            if masks.other != 0 {
                self.rare_bytes(masks.other, masks.alpha, at)?;
            }
            at += STEP;
        }
        self.last_steps(classify, at, carry)
    }

    /// The bytes after the last whole step: read on from `raw` when it goes
    /// on past the text, else at most two more steps, the last one
    /// overlapping what was seen or padded with zeros.
    #[inline(always)]
    fn last_steps(
        &mut self,
        classify: impl Classify,
        mut at: usize,
        mut carry: u64,
    ) -> ControlFlow<()> {
        let (raw, len) = (self.raw, self.len);
        while at < len {
            let copy;
            let direct = raw
                .get(at..)
                .and_then(<[u8]>::first_chunk::<{ STEP + LOOKAHEAD }>);
            let (window, skip) = match direct {
                Some(window) => (window, 0),
                None => {
                    copy = block::last(&raw[..len], at);
                    (&copy.0, copy.1)
                }
            };
            let Some((step, _)) = window.split_first_chunk::<STEP>() else {
                break;
            };
            let masks = classify.step(step);
            let fresh_len = (len - at).min(STEP);
            // a step read on from `raw` holds bytes past the text: only the
            // text's own count
            if masks.high != 0 && (direct.is_none() || !raw[at..at + fresh_len].is_ascii()) {
                return ControlFlow::Break(());
            }
            let fresh = u64::MAX >> (STEP - fresh_len) << skip;
            // a step that starts before `at` holds the byte before it
            let before = if skip == 0 { carry } else { 0 };
            let starts = masks.alpha & !(masks.alpha << 1 | before) & fresh;
            let starts = self.prefilter.anchors.long_enough(starts, masks.word);
            let base = at - skip;
            self.words(starts, base, |i| first4(window.get(i..)))?;
            if masks.other & fresh != 0 {
                self.rare_bytes(masks.other & fresh, masks.alpha | masks.other, base)?;
            }
            carry = masks.alpha >> (STEP - 1);
            at += fresh_len;
        }
        ControlFlow::Continue(())
    }

    /// The word starts among `starts` (bit i: `raw[base + i]`) whose first
    /// four bytes, read by `first4(i)`, may open an anchor.
    #[inline(always)]
    fn words(
        &mut self,
        starts: u64,
        base: usize,
        first4: impl Fn(usize) -> u32,
    ) -> ControlFlow<()> {
        let anchors = &self.prefilter.anchors;
        let mut bits = starts;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            if anchors.may_start(first4(i)) {
                self.word_at(base + i)?;
            }
            bits &= bits - 1;
        }
        ControlFlow::Continue(())
    }

    /// The marked bytes `other` (bit i: `raw[base + i]`) one by one; `alpha`
    /// holds the step's letters (and may hold more), which with `other`
    /// bound the encoded runs a mark can be in.
    fn rare_bytes(&mut self, other: u64, alpha: u64, base: usize) -> ControlFlow<()> {
        let mut bits = other;
        while bits != 0 {
            let i = bits.trailing_zeros();
            bits &= bits - 1;
            self.rare_byte_at(base + i as usize, short_run(alpha | other, i))?;
        }
        ControlFlow::Continue(())
    }

    /// The block masks count a letter after a digit or `_` as a word start;
    /// it is none (`abc123def` holds no `def`).
    fn word_at(&mut self, at: usize) -> ControlFlow<()> {
        let before = at.checked_sub(1).and_then(|i| self.raw.get(i));
        if before.is_some_and(|&b| b.is_ascii_digit() || b == b'_') {
            return ControlFlow::Continue(());
        }
        self.anchors_at(at)
    }

    fn anchors_at(&mut self, at: usize) -> ControlFlow<()> {
        let rules = self.prefilter.anchors.rules_at(self.raw, at) & !self.found;
        if rules == 0 {
            return ControlFlow::Continue(());
        }
        self.found |= rules;
        let mut bits = rules;
        while bits != 0 {
            let rule = bits.trailing_zeros() as usize;
            self.possible += self.prefilter.rule_weight.get(rule).copied().unwrap_or(0.0);
            bits &= bits - 1;
        }
        self.verdict()
    }

    /// `\u` and `%XX` make the decoded text unknowable here; a letter that
    /// ends a JSON escape (`\nSystem:`) starts a word once decoded.
    /// `short`: the run around `raw[at]` is known to be shorter than any
    /// that counts.
    fn rare_byte_at(&mut self, at: usize, short: bool) -> ControlFlow<()> {
        let raw = self.raw;
        let pii = match raw.get(at) {
            Some(b'@') => self.pii.emails,
            Some(b'0'..=b'9') => self.pii.numbers && self.digits.dense_at(at),
            _ => false,
        };
        if pii {
            return ControlFlow::Break(());
        }
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
            // no anchor opens with one of these (`check_anchor`)
            Some(b'0'..=b'9' | b'+' | b'/' | b'=') if short => ControlFlow::Continue(()),
            Some(b'0'..=b'9' | b'+' | b'/' | b'=') => self.mark_at(at),
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
        // Measured no further than `LONG_RUN` bytes: a run that long ends
        // the pass whatever its full length.
        let (mut start, mut end) = (at, at);
        while start > 0 && end - start < decode::LONG_RUN && in_run(raw, start - 1) {
            start -= 1;
        }
        while end < self.len && end - start < decode::LONG_RUN && in_run(raw, end) {
            end += 1;
        }
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

/// Whether the bytes around bit `i` of `maybe` (every byte a run may hold
/// is set there, and maybe others) are fewer than a short run and end
/// inside the step: then no run `mark_at` measures there counts.
fn short_run(maybe: u64, i: u32) -> bool {
    let up = (!(maybe >> i)).trailing_zeros();
    let down = (!(maybe << (63 - i))).leading_zeros();
    i + up < 64 && down <= i && up + down - 1 < decode::SHORT_RUN as u32
}

/// The first four bytes of `bytes` as a little-endian word, zeros past the
/// end: one load where four bytes are left.
fn first4(bytes: Option<&[u8]>) -> u32 {
    let bytes = bytes.unwrap_or_default();
    match bytes.first_chunk::<4>() {
        Some(word) => u32::from_le_bytes(*word),
        None => {
            let byte = |i: usize| bytes.get(i).map_or(0, |&b| u32::from(b));
            byte(0) | byte(1) << 8 | byte(2) << 16
        }
    }
}

/// Whether `raw[i]` belongs to an encoded run, counting both bytes of `\/`.
fn in_run(raw: &[u8], i: usize) -> bool {
    match raw.get(i) {
        Some(&b) => RUN[usize::from(b)] || (b == b'\\' && raw.get(i + 1) == Some(&b'/')),
        None => false,
    }
}

/// The bytes a run is made of, `/` (half of `\/`) included: one load.
const RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b == b'/' as usize || decode::is_run_byte(b as u8);
        b += 1;
    }
    table
};
