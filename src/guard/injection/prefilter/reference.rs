//! The first prefilter, kept for tests only: an overlapping,
//! ASCII-case-insensitive Aho-Corasick pass over the whole body. The fast
//! one must answer "maybe" wherever this one does.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::super::{decode, rules};

pub(super) struct Reference {
    anchors: AhoCorasick,
    /// Anchor pattern index → rule index.
    anchor_rule: Vec<usize>,
    /// Anchor pattern index → whether it is also a JSON structure word.
    structural: Vec<bool>,
    rule_weight: Vec<f32>,
    /// Weight that needs no anchor: operator rules.
    unanchored: f32,
    /// A tool-name mention's weight, possible only when the body declares
    /// tools (`"tools"`, or the legacy `"functions"`).
    tool_weight: f32,
    threshold: f32,
}

impl Reference {
    /// `rules` holds each anchored rule's weight and anchor words.
    pub(super) fn new(
        rules: &[(f32, &[&str])],
        unanchored: f32,
        tool_weight: f32,
        threshold: f32,
    ) -> Result<Reference, String> {
        let mut words = Vec::new();
        let mut anchor_rule = Vec::new();
        for (index, (_, anchors)) in rules.iter().enumerate() {
            for word in anchors.iter() {
                words.push(*word);
                anchor_rule.push(index);
            }
        }
        let structural = words
            .iter()
            .map(|w| rules::STRUCTURAL.contains(w))
            .collect();
        let anchors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .map_err(|e| format!("injection prefilter: {e}"))?;
        Ok(Reference {
            anchors,
            anchor_rule,
            structural,
            rule_weight: rules.iter().map(|(w, _)| *w).collect(),
            unanchored,
            tool_weight,
            threshold,
        })
    }

    pub(super) fn may_match(&self, raw: &[u8]) -> bool {
        if self.unanchored >= self.threshold || !raw.is_ascii() {
            return true;
        }
        let mut possible = self.unanchored;
        if self.tool_weight > 0.0 && declares_tools(raw) {
            possible += self.tool_weight;
        }
        match escapes_and_runs(raw) {
            Bytes::Decodable => return true,
            Bytes::ShortRun => possible += rules::SHORT_ENCODED_TEXT_WEIGHT,
            Bytes::Plain => {}
        }
        if possible >= self.threshold {
            return true;
        }
        let mut seen = vec![false; self.rule_weight.len()];
        for found in self.anchors.find_overlapping_iter(raw) {
            let pattern = found.pattern().as_usize();
            if (raw[found.start()].is_ascii_alphabetic() && !word_start(raw, found.start()))
                || (self.structural[pattern] && quoted(raw, found.start(), found.end()))
            {
                continue;
            }
            let rule = self.anchor_rule[pattern];
            if !seen[rule] {
                seen[rule] = true;
                possible += self.rule_weight[rule];
                if possible >= self.threshold {
                    return true;
                }
            }
        }
        false
    }
}

fn declares_tools(raw: &[u8]) -> bool {
    memchr::memmem::find(raw, br#""tools""#).is_some()
        || memchr::memmem::find(raw, br#""functions""#).is_some()
}

/// Anchors start words (`practical` holds no `act`). A letter that ends a
/// JSON escape (`\nSystem:`) is a boundary once decoded.
fn word_start(raw: &[u8], start: usize) -> bool {
    let Some(&before) = start.checked_sub(1).and_then(|i| raw.get(i)) else {
        return true;
    };
    if !before.is_ascii_alphanumeric() && before != b'_' {
        return true;
    }
    matches!(before, b'n' | b't' | b'r' | b'b' | b'f') && start >= 2 && raw[start - 2] == b'\\'
}

/// Whether `raw[start..end]` is a whole JSON string.
fn quoted(raw: &[u8], start: usize, end: usize) -> bool {
    start > 0 && raw[start - 1] == b'"' && raw.get(end) == Some(&b'"')
}

enum Bytes {
    Plain,
    /// A short encoded run: it can only add the short-text weight.
    ShortRun,
    /// Something `scan` would decode into arbitrary text.
    Decodable,
}

/// Over the ASCII body: `\u` escapes and `%XX` make the decoded text
/// unknowable here; encoded runs are measured as `decode` measures them,
/// starting from the bytes a candidate run must hold (digits, `+/=`), which
/// plain prose rarely has. A JSON-escaped slash (`\/`) continues a run, as
/// it does once decoded.
fn escapes_and_runs(raw: &[u8]) -> Bytes {
    if memchr::memmem::find(raw, b"\\u").is_some() {
        return Bytes::Decodable;
    }
    let percent_escape = memchr::memchr_iter(b'%', raw).any(|i| {
        raw.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && raw.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    });
    if percent_escape {
        return Bytes::Decodable;
    }
    let mut found = Bytes::Plain;
    let mut at = 0;
    while let Some(offset) = raw[at..]
        .iter()
        .position(|b| b.is_ascii_digit() || matches!(b, b'+' | b'/' | b'='))
    {
        let mark = at + offset;
        let start = (0..mark)
            .rev()
            .find(|&i| !in_run(raw, i))
            .map_or(0, |i| i + 1);
        let end = (mark..raw.len())
            .find(|&i| !in_run(raw, i))
            .unwrap_or(raw.len());
        match run_kind(end - start) {
            Some(Bytes::Decodable) => return Bytes::Decodable,
            Some(_) => found = Bytes::ShortRun,
            None => {}
        }
        at = end.max(mark + 1);
    }
    found
}

/// Whether `raw[i]` belongs to an encoded run, counting both bytes of `\/`.
fn in_run(raw: &[u8], i: usize) -> bool {
    match raw[i] {
        b'\\' => raw.get(i + 1) == Some(&b'/'),
        b'/' => true,
        b => decode::is_run_byte(b),
    }
}

fn run_kind(len: usize) -> Option<Bytes> {
    if len < decode::SHORT_RUN {
        None
    } else if len >= decode::LONG_RUN {
        Some(Bytes::Decodable)
    } else {
        Some(Bytes::ShortRun)
    }
}
