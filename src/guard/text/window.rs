//! The answer guard on a stream: each delta goes into a window, and only
//! text no pattern can still claim goes out. Patterns (key shapes, canaries,
//! PII) are decided by a bounded span from their start, so the window keeps
//! the longest span's bytes; an echoed system prompt is followed word by
//! word (`leak::EchoTracker`) and keeps at most `BYTES_PER_WORD` per word
//! of `min_words`. Whatever arrives in whatever pieces, the text sent is the
//! text the whole answer would give; with nothing found, it is the input.
//!
//! A finding starting before the cut is final (all it depends on is in
//! view) and the cut moves past its end; one starting after waits. A key
//! longer than the window is redacted up to the cut and its rest dropped as
//! it arrives. Positions are byte offsets in the whole answer; the window
//! also keeps `CONTEXT` bytes already sent, so the char before a finding,
//! or the `Bearer` before a token, is still seen.

use std::ops::Range;

use memchr::memmem;

use super::TextRules;
use super::leak::{BYTES_PER_WORD, EchoTracker, LeakAction};
use super::pii::{PII_SPAN, PiiAction, PiiKind};
use crate::api::scrub;

/// Bytes a key shape needs in view from its start: `sk-` and 13 more, or a
/// `…_key:` word, its separators and a 20-character value.
pub const KEY_SPAN: usize = 64;
/// Bytes already sent that the window keeps for context.
const CONTEXT: usize = 64;
/// A cut moves back to a char boundary by at most this.
const CHAR_SLACK: usize = 3;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakKind {
    /// An API-key shape (`sk-…`, `AIza…`, a bearer or `api_key` value).
    Key,
    /// A configured canary string.
    Canary,
    /// A run of the request's system prompt.
    SystemPrompt,
    Pii(PiiKind),
}

/// What was done about it; ordered by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Left in the text (PII with `action = "log"`).
    Logged,
    /// Replaced by `[redacted]` or the PII mask.
    Redacted,
    /// The answer stops here; the caller ends it with an error.
    Blocked,
}

/// The strongest thing that happened in one `push` or `finish`. Carries no
/// text of the finding, so it can go to the delivery record and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakEvent {
    pub kind: LeakKind,
    pub action: Verdict,
}

/// What a `push` or `finish` lets out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Emit {
    /// Safe to send now, in order after what was sent before.
    pub text: String,
    pub event: Option<LeakEvent>,
}

/// The stronger of two events (the first on a tie).
pub(super) fn strongest(a: Option<LeakEvent>, b: Option<LeakEvent>) -> Option<LeakEvent> {
    match (a, b) {
        (Some(a), Some(b)) if b.action > a.action => Some(b),
        (a, b) => a.or(b),
    }
}

/// A finding, in answer offsets.
struct Span {
    range: Range<usize>,
    event: LeakEvent,
    mark: &'static str,
    /// Reported in this emit's event (a key's rest or an echo's growth is
    /// not a new finding).
    fresh: bool,
}

/// Guards one streamed answer.
pub struct StreamGuard {
    rules: TextRules,
    /// Sent context, then held text.
    window: String,
    /// Bytes of `window` already sent.
    context: usize,
    /// Answer offset of the first held byte.
    base: usize,
    echo: Option<EchoTracker>,
    /// A key runs on past the cut: `Some(wide)` with its token's alphabet.
    open_key: Option<bool>,
    /// Where the last mark sent stopped hiding text, so a hidden span that
    /// goes on from there gets no second mark.
    marked_to: Option<usize>,
    blocked: bool,
    pattern_hold: usize,
    echo_hold: usize,
}

impl StreamGuard {
    pub fn new(rules: TextRules) -> Self {
        let policy = rules.policy();
        let leak = policy.leak();
        let canary_hold = leak
            .map(|l| l.canaries.iter().map(String::len).max().unwrap_or(0))
            .unwrap_or(0);
        let key_hold = if leak.is_some_and(|l| l.redact_keys) {
            KEY_SPAN
        } else {
            0
        };
        let pii_hold = if policy.answer_pii().is_some() {
            PII_SPAN + 1
        } else {
            0
        };
        let echo = leak
            .zip(rules.print())
            .map(|(l, print)| EchoTracker::new(print.clone(), l.min_words));
        let echo_hold = leak
            .filter(|_| echo.is_some())
            .map_or(0, |l| (l.min_words + 1) * BYTES_PER_WORD);
        StreamGuard {
            pattern_hold: canary_hold.max(key_hold).max(pii_hold),
            echo_hold,
            echo,
            rules,
            window: String::new(),
            context: 0,
            base: 0,
            open_key: None,
            marked_to: None,
            blocked: false,
        }
    }

    /// The most text this guard ever holds back, in bytes.
    pub fn hold_bound(&self) -> usize {
        match self.pattern_hold.max(self.echo_hold) {
            0 => 0,
            hold => hold + CHAR_SLACK,
        }
    }

    /// Bytes received and not yet let out.
    pub fn held(&self) -> usize {
        self.window.len() - self.context
    }

    /// Takes the next piece of the answer; returns what can go out now.
    pub fn push(&mut self, delta: &str) -> Emit {
        if self.blocked {
            return Emit::default();
        }
        if self.hold_bound() == 0 {
            return Emit {
                text: delta.to_owned(),
                event: None,
            };
        }
        let at = self.end();
        if let Some(echo) = &mut self.echo {
            echo.feed(delta, at);
        }
        self.window.push_str(delta);
        self.release(false)
    }

    /// The answer ended: everything still held, decided.
    pub fn finish(&mut self) -> Emit {
        if self.blocked {
            return Emit::default();
        }
        if let Some(echo) = &mut self.echo {
            echo.finish();
        }
        self.release(true)
    }

    fn end(&self) -> usize {
        self.base + self.held()
    }

    fn release(&mut self, last: bool) -> Emit {
        let end = self.end();
        let mut spans = Vec::new();
        self.find_patterns(&mut spans);
        spans.sort_by_key(|s| s.range.start);
        let mut cut = if last { end } else { self.cut_before(end) };
        let mut done = Vec::new();
        if let Some(rest) = self.continue_key(last) {
            cut = cut.max(rest.range.end);
            done.push(rest);
        }
        for span in spans {
            if span.range.start < cut {
                cut = cut.max(span.range.end);
                done.push(span);
            }
        }
        if !last && self.open_key.is_none() {
            self.open_key = self.opened_key(&done, end);
        }
        let mut event = self.echo_spans(cut, &mut done);
        done.sort_by_key(|s| s.range.start);
        if let Some(block) = done.iter().find(|s| s.event.action == Verdict::Blocked) {
            cut = block.range.start.max(self.base);
            self.blocked = true;
        }
        let text = self.render(&done, cut);
        for span in done.iter().filter(|s| s.fresh) {
            event = strongest(event, Some(span.event));
        }
        self.advance(cut);
        Emit { text, event }
    }

    /// Where held text stops being sendable: the longest pattern's span
    /// back from the end, or earlier where an echo may be growing (but never
    /// more than the echo's bound), at a char boundary.
    fn cut_before(&self, end: usize) -> usize {
        let pattern_cut = end.saturating_sub(self.pattern_hold);
        let echo_cut = self
            .echo
            .as_ref()
            .and_then(EchoTracker::hold_from)
            .map_or(end, |from| from.max(end.saturating_sub(self.echo_hold)));
        let cut = pattern_cut.min(echo_cut).max(self.base);
        let at = self
            .window
            .floor_char_boundary(self.context + cut - self.base);
        self.base + at - self.context
    }

    /// The rest of a key cut at the previous cut: its leading token bytes.
    fn continue_key(&mut self, last: bool) -> Option<Span> {
        let wide = self.open_key?;
        let held = &self.window.as_bytes()[self.context..];
        let n = held.iter().take_while(|&&b| key_byte(b, wide)).count();
        if n < held.len() || last {
            self.open_key = None;
        }
        (n > 0).then(|| Span {
            range: self.base..self.base + n,
            event: LeakEvent {
                kind: LeakKind::Key,
                action: Verdict::Redacted,
            },
            mark: scrub::REDACTED,
            fresh: false,
        })
    }

    /// Whether a key sent now runs to the end of what arrived, so its rest
    /// must be dropped as it comes: `Some(wide)` for a bearer-style token.
    fn opened_key(&self, done: &[Span], end: usize) -> Option<bool> {
        let span = done
            .iter()
            .rev()
            .find(|s| s.event.kind == LeakKind::Key && s.range.end == end)?;
        let token = &self.window.as_bytes()[self.context + span.range.start - self.base..];
        Some(!(token.starts_with(b"sk-") || token.starts_with(b"AIza")))
    }

    /// Key shapes, canaries and PII starting in the held text.
    fn find_patterns(&self, spans: &mut Vec<Span>) {
        let policy = self.rules.policy();
        let bytes = self.window.as_bytes();
        let at = |i: usize| self.base + i - self.context;
        let mut push =
            |start: usize, end: usize, kind: LeakKind, action: Verdict, mark: &'static str| {
                if start >= self.context {
                    let event = LeakEvent { kind, action };
                    spans.push(Span {
                        range: at(start)..at(end),
                        event,
                        mark,
                        fresh: true,
                    });
                }
            };
        let Some(leak) = policy.leak() else {
            return self.find_pii(&mut push);
        };
        if leak.redact_keys {
            for (start, end) in scrub::key_spans(bytes) {
                push(
                    start,
                    end,
                    LeakKind::Key,
                    Verdict::Redacted,
                    scrub::REDACTED,
                );
            }
        }
        let action = leak_verdict(leak.action);
        for canary in &leak.canaries {
            for start in memmem::find_iter(bytes, canary.as_bytes()) {
                push(
                    start,
                    start + canary.len(),
                    LeakKind::Canary,
                    action,
                    scrub::REDACTED,
                );
            }
        }
        self.find_pii(&mut push);
    }

    fn find_pii(&self, push: &mut impl FnMut(usize, usize, LeakKind, Verdict, &'static str)) {
        let Some((scanner, action)) = self.rules.policy().answer_pii() else {
            return;
        };
        let verdict = match action {
            PiiAction::Mask => Verdict::Redacted,
            PiiAction::Block => Verdict::Blocked,
            PiiAction::Log => Verdict::Logged,
        };
        for f in scanner.find(&self.window) {
            push(
                f.range.start,
                f.range.end,
                LeakKind::Pii(f.kind),
                verdict,
                f.kind.mask(),
            );
        }
    }

    /// Echoed system-prompt spans up to `cut` (a blocked one whole), and
    /// the event of a leak found since the last call.
    fn echo_spans(&mut self, cut: usize, done: &mut Vec<Span>) -> Option<LeakEvent> {
        let echo = self.echo.as_mut()?;
        let action = self
            .rules
            .policy()
            .leak()
            .map_or(LeakAction::Redact, |l| l.action);
        let event = LeakEvent {
            kind: LeakKind::SystemPrompt,
            action: leak_verdict(action),
        };
        let blocks = event.action == Verdict::Blocked;
        for range in echo.leaked() {
            let stop = if blocks {
                range.end
            } else {
                range.end.min(cut)
            };
            let range = range.start.max(self.base)..stop;
            if range.start < range.end {
                done.push(Span {
                    range,
                    event,
                    mark: scrub::REDACTED,
                    fresh: false,
                });
            }
        }
        echo.take_new_leak().then_some(event)
    }

    /// The held text up to `cut`, with each redacted span replaced by its
    /// mark (once for spans that touch or overlap).
    fn render(&mut self, done: &[Span], cut: usize) -> String {
        let held = &self.window[self.context..];
        let mut out = String::with_capacity(cut - self.base);
        let mut at = self.base;
        for span in done.iter().filter(|s| s.event.action == Verdict::Redacted) {
            let start = span.range.start.max(at);
            let end = span.range.end.min(cut);
            if start >= end {
                continue;
            }
            out.push_str(&held[at - self.base..start - self.base]);
            if self.marked_to != Some(start) {
                out.push_str(span.mark);
            }
            self.marked_to = Some(end);
            at = end;
        }
        if at < cut {
            out.push_str(&held[at - self.base..cut - self.base]);
        }
        out
    }

    /// Drops what was sent up to `cut`, keeping `CONTEXT` bytes of it.
    fn advance(&mut self, cut: usize) {
        if self.blocked {
            self.window = String::new();
            return;
        }
        let sent = self.context + cut - self.base;
        let keep = self
            .window
            .floor_char_boundary(sent.saturating_sub(CONTEXT));
        self.window.drain(..keep);
        self.context = sent - keep;
        self.base = cut;
        if let Some(echo) = &mut self.echo {
            echo.release(cut);
        }
    }
}

fn leak_verdict(action: LeakAction) -> Verdict {
    match action {
        LeakAction::Redact => Verdict::Redacted,
        LeakAction::Block => Verdict::Blocked,
    }
}

/// A byte of a key token: `sk-`/`AIza` keys are letters, digits, `_`, `-`;
/// bearer and base64 values also take `.`, `+`, `/`, `=`, `~`.
fn key_byte(b: u8, wide: bool) -> bool {
    b.is_ascii_alphanumeric()
        || b == b'_'
        || b == b'-'
        || wide && matches!(b, b'.' | b'+' | b'/' | b'=' | b'~')
}

#[cfg(test)]
mod tests;
