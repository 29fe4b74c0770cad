//! System-prompt leaks: the request's system prompt as a set of hashed
//! word shingles (`PromptPrint`), and the answer-side tracker (`EchoTracker`)
//! that finds a run of consecutive answer shingles all in that set.
//!
//! Words are runs of letters and digits, lowercased, so case, whitespace and
//! punctuation do not hide an echo. A shingle is `SHINGLE` consecutive words
//! (fewer when `min_words` is smaller); a run of `r` matching shingles in a
//! row covers `r + SHINGLE - 1` words, and reaching `min_words` words is a
//! leak. Memory is bounded both sides: at most `PROMPT_WORDS_MAX` words of a
//! prompt are printed, and the tracker keeps one shingle's words and one run.

use std::collections::VecDeque;
use std::hash::Hasher;
use std::ops::Range;

use rustc_hash::{FxHashSet, FxHasher};
use serde::Deserialize;

/// Words per shingle: long enough that common phrases of a prompt ("you are
/// a helpful assistant") do not make a run on their own.
pub const SHINGLE: usize = 8;
/// Only this many words of a system prompt are printed (about 50 KB of text).
pub const PROMPT_WORDS_MAX: usize = 8192;
/// Bytes the stream window keeps per word of `min_words` while a run grows:
/// a run spread wider than that has its first words sent unredacted (the
/// leak is still reported, and blocked when the action says so).
pub const BYTES_PER_WORD: usize = 16;

/// `[guards.leak]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakConfig {
    /// Strings that must never appear in an answer (a canary planted in the
    /// system prompt). May be secret references; the caller resolves them.
    pub canaries: Vec<String>,
    /// Look for the request's own system prompt echoed in the answer.
    pub system_prompt: bool,
    /// Consecutive words of the system prompt that make a leak.
    pub min_words: usize,
    /// What a canary or an echoed system prompt does.
    pub action: LeakAction,
    /// Redact API-key shapes (`sk-…`, `AIza…`, bearer tokens) in answers.
    pub redact_keys: bool,
}

impl Default for LeakConfig {
    fn default() -> Self {
        LeakConfig {
            canaries: Vec::new(),
            system_prompt: true,
            min_words: 12,
            action: LeakAction::Redact,
            redact_keys: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakAction {
    /// Replace the leaked text by `[redacted]` and go on.
    #[default]
    Redact,
    /// End the answer (an error event on a stream).
    Block,
}

/// The shingles of one system prompt.
#[derive(Debug)]
pub struct PromptPrint {
    shingles: FxHashSet<u64>,
    size: usize,
}

impl PromptPrint {
    /// The print of `prompt` in shingles of `size` words; `None` when the
    /// prompt has fewer words than one shingle.
    pub fn new(prompt: &str, size: usize) -> Option<PromptPrint> {
        let size = size.max(1);
        let mut words = WordHasher::default();
        let mut recent = VecDeque::with_capacity(size);
        let mut shingles = FxHashSet::default();
        let mut seen = 0;
        let mut take = |word: Word| {
            seen += 1;
            if seen > PROMPT_WORDS_MAX {
                return;
            }
            push_recent(&mut recent, word, size);
            if recent.len() == size {
                shingles.insert(shingle(&recent));
            }
        };
        for (at, c) in prompt.char_indices() {
            if let Some(word) = words.push(c, at) {
                take(word);
            }
        }
        if let Some(word) = words.end() {
            take(word);
        }
        (!shingles.is_empty()).then_some(PromptPrint { shingles, size })
    }
}

/// A finished word: its hash and where it stands in the text.
#[derive(Debug, Clone, Copy)]
struct Word {
    hash: u64,
    start: usize,
    end: usize,
}

/// Splits text fed a char at a time into lowercased words, hashing as it
/// goes, so a word split across two stream events is still one word.
#[derive(Default)]
struct WordHasher {
    open: Option<(usize, FxHasher)>,
    at: usize,
}

impl WordHasher {
    /// Feeds `c`, found at byte `at`; the word it ends, if it ends one.
    fn push(&mut self, c: char, at: usize) -> Option<Word> {
        self.at = at + c.len_utf8();
        if !c.is_alphanumeric() {
            return self.finish_word(at);
        }
        let (_, hasher) = self.open.get_or_insert_with(|| (at, FxHasher::default()));
        for lower in c.to_lowercase() {
            hasher.write_u32(u32::from(lower));
        }
        None
    }

    /// The word the text ends in, at its end.
    fn end(&mut self) -> Option<Word> {
        self.finish_word(self.at)
    }

    fn finish_word(&mut self, end: usize) -> Option<Word> {
        let (start, hasher) = self.open.take()?;
        Some(Word {
            hash: hasher.finish(),
            start,
            end,
        })
    }

    fn open_start(&self) -> Option<usize> {
        self.open.as_ref().map(|(start, _)| *start)
    }
}

fn push_recent(recent: &mut VecDeque<Word>, word: Word, size: usize) {
    if recent.len() == size {
        recent.pop_front();
    }
    recent.push_back(word);
}

/// Order-sensitive hash of a shingle's words.
fn shingle(words: &VecDeque<Word>) -> u64 {
    words.iter().fold(0u64, |h, w| {
        (h.rotate_left(5) ^ w.hash).wrapping_mul(0x517c_c1b7_2722_0a95)
    })
}

/// A run of consecutive answer shingles found in the prompt.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    words: usize,
}

/// Follows an answer's words and reports runs echoing the system prompt.
/// Positions are byte offsets in the whole answer.
pub struct EchoTracker {
    print: std::sync::Arc<PromptPrint>,
    min_words: usize,
    words: WordHasher,
    recent: VecDeque<Word>,
    run: Option<Run>,
    /// Leaked runs that have ended but may not all be sent yet.
    ended: Vec<Range<usize>>,
    /// A run reached `min_words` since the last `take_new_leak`.
    new_leak: bool,
}

impl EchoTracker {
    pub fn new(print: std::sync::Arc<PromptPrint>, min_words: usize) -> Self {
        let size = print.size;
        EchoTracker {
            print,
            min_words: min_words.max(size),
            words: WordHasher::default(),
            recent: VecDeque::with_capacity(size),
            run: None,
            ended: Vec::new(),
            new_leak: false,
        }
    }

    /// Feeds `text`, which starts at byte `at` of the answer.
    pub fn feed(&mut self, text: &str, at: usize) {
        for (i, c) in text.char_indices() {
            if let Some(word) = self.words.push(c, at + i) {
                self.take(word);
            }
        }
    }

    /// The answer ended: its last word is complete, its run over.
    pub fn finish(&mut self) {
        if let Some(word) = self.words.end() {
            self.take(word);
        }
        self.end_run();
    }

    fn take(&mut self, word: Word) {
        push_recent(&mut self.recent, word, self.print.size);
        if self.recent.len() < self.print.size {
            return;
        }
        if !self.print.shingles.contains(&shingle(&self.recent)) {
            self.end_run();
            return;
        }
        let run = self.run.get_or_insert(Run {
            start: self.recent[0].start,
            end: word.end,
            words: self.print.size - 1,
        });
        run.end = word.end;
        run.words += 1;
        if run.words == self.min_words {
            self.new_leak = true;
        }
    }

    fn end_run(&mut self) {
        if let Some(run) = self.run.take().filter(|r| r.words >= self.min_words) {
            self.ended.push(run.start..run.end);
        }
    }

    /// Whether a run became a leak since the last call.
    pub fn take_new_leak(&mut self) -> bool {
        std::mem::take(&mut self.new_leak)
    }

    /// Leaked text known so far: ended runs, and the part of the current
    /// run already confirmed.
    pub fn leaked(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let current = self
            .run
            .filter(|r| r.words >= self.min_words)
            .map(|r| r.start..r.end);
        self.ended.iter().cloned().chain(current)
    }

    /// Where text must stay unsent because it may still turn out to be part
    /// of a leak: a growing run from its start (a leaked one from its
    /// confirmed end), otherwise the words a next shingle would share.
    pub fn hold_from(&self) -> Option<usize> {
        match self.run {
            Some(run) if run.words >= self.min_words => Some(run.end),
            Some(run) => Some(run.start),
            None => {
                let shared = self.print.size - 1;
                let skip = self.recent.len().saturating_sub(shared);
                self.recent
                    .get(skip)
                    .map(|w| w.start)
                    .or(self.words.open_start())
            }
        }
    }

    /// Forgets ended runs wholly before `sent`.
    pub fn release(&mut self, sent: usize) {
        self.ended.retain(|r| r.end > sent);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const PROMPT: &str = "You are Quill, the support assistant of Acme Corp. Never reveal \
        the internal escalation code, never discuss pricing for enterprise plans, and \
        always answer in a friendly, concise tone.";

    fn tracker(min_words: usize) -> EchoTracker {
        let print = PromptPrint::new(PROMPT, SHINGLE.min(min_words)).expect("print");
        EchoTracker::new(Arc::new(print), min_words)
    }

    fn leaks(answer: &str, min_words: usize) -> Vec<String> {
        let mut t = tracker(min_words);
        t.feed(answer, 0);
        t.finish();
        t.leaked().map(|r| answer[r].to_string()).collect()
    }

    #[test]
    fn an_echo_is_found_whatever_its_case_and_punctuation() {
        let answer = "Sure! My instructions say: you are quill — the SUPPORT assistant of \
            acme corp; never reveal the internal escalation code. Anything else?";
        assert_eq!(
            leaks(answer, 12),
            ["you are quill — the SUPPORT assistant of \
            acme corp; never reveal the internal escalation code"]
        );
    }

    #[test]
    fn short_overlaps_are_not_leaks() {
        let answer = "I am the support assistant of Acme Corp. How can I help today?";
        assert!(leaks(answer, 12).is_empty());
        let eleven = "you are quill the support assistant of acme corp never reveal";
        assert!(leaks(eleven, 12).is_empty());
        assert_eq!(leaks(eleven, 11).len(), 1);
    }

    #[test]
    fn words_split_across_events_are_whole_words() {
        let answer = "you are quill the support assistant of acme corp never reveal the internal";
        for split in 0..answer.len() {
            let mut t = tracker(12);
            t.feed(&answer[..split], 0);
            t.feed(&answer[split..], split);
            t.finish();
            let found: Vec<_> = t.leaked().map(|r| (r.start, r.end)).collect();
            assert_eq!(found, [(0, answer.len())], "split at {split}");
        }
    }

    #[test]
    fn config_reads_from_toml() {
        let config: LeakConfig =
            toml::from_str("canaries = [\"env:CANARY\"]\nmin_words = 20\naction = \"block\"")
                .expect("config");
        assert_eq!(config.action, LeakAction::Block);
        assert_eq!(config.min_words, 20);
        assert!(config.system_prompt && config.redact_keys);
        assert!(toml::from_str::<LeakConfig>("min_word = 3").is_err());
    }
}
