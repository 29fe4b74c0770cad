//! Byte-level BPE over a tiktoken-format rank table (`base64 rank` per
//! line), for the families whose tokenizer data ships in `data/tokenizers/`
//! (Qwen, Mistral tekken, DeepSeek) and for Llama 3's bound.
//!
//! The merge step is tiktoken-rs's own ([`byte_pair_split`]) for pieces of
//! up to [`LARGE_PIECE`] bytes; longer ones (a run of thousands of spaces,
//! a pasted blob) go to [`merge_count`], the same rule — merge the
//! lowest-ranked adjacent pair, leftmost first — on a heap, because
//! tiktoken-rs's exported merge is quadratic and its heap version private.
//! This module owns the table and the pre-tokenizer that cuts text into
//! the pieces BPE runs on. Only counts come out: no decoder is kept, so a
//! table costs about half of what a `CoreBPE` of the same size does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fancy_regex::Regex;
use rustc_hash::FxHashMap;
use tiktoken_rs::{Rank, byte_pair_split};

/// Why a rank table could not be built (the embedded tables are checked by
/// the tests, so this is a build defect, never a request's fault).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("rank table line {0} is not `base64 rank`")]
    BadLine(usize),
    #[error("rank table lacks the single byte {0:#04x}: byte-level BPE needs all 256")]
    MissingByte(u8),
    #[error("pre-tokenizer pattern does not compile: {0}")]
    Pattern(String),
    #[error("the table this one is cut from did not build: {0}")]
    Source(String),
}

/// How text is cut into pieces before BPE.
pub enum Splitter {
    /// One regex, tiktoken style; text it does not match is its own piece.
    Pattern(Regex),
    /// DeepSeek V3's `Sequence` of three isolating splits: digit groups of
    /// up to three, then runs of CJK ideographs and kana, then the word
    /// pattern on what is left. Applied in stages, as the HF pre-tokenizer
    /// does, because each later split only sees the pieces of the earlier.
    Staged {
        digits: regex::Regex,
        cjk: regex::Regex,
        words: Regex,
    },
}

impl Splitter {
    pub fn pattern(pattern: &str) -> Result<Self, LoadError> {
        Regex::new(pattern)
            .map(Splitter::Pattern)
            .map_err(|e| LoadError::Pattern(e.to_string()))
    }

    /// DeepSeek V3 / V4's pre-tokenizer (its `tokenizer.json`, copied).
    pub fn deepseek() -> Result<Self, LoadError> {
        let cjk = "[\u{4e00}-\u{9fa5}\u{3040}-\u{309f}\u{30a0}-\u{30ff}]+";
        let words = concat!(
            r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"##,
            r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*",
            r"|\s*[\r\n]+|\s+(?!\S)|\s+",
        );
        let plain = |p: &str| regex::Regex::new(p).map_err(|e| LoadError::Pattern(e.to_string()));
        Ok(Splitter::Staged {
            digits: plain(r"\p{N}{1,3}")?,
            cjk: plain(cjk)?,
            words: Regex::new(words).map_err(|e| LoadError::Pattern(e.to_string()))?,
        })
    }

    /// Calls `piece` with each piece of `text`, in order, covering all of it.
    fn for_each_piece(&self, text: &str, piece: &mut impl FnMut(&str)) {
        match self {
            Splitter::Pattern(re) => isolate_fancy(re, text, piece),
            Splitter::Staged { digits, cjk, words } => isolate(digits, text, &mut |a, digit| {
                if digit {
                    return piece(a);
                }
                isolate(cjk, a, &mut |b, ideographs| {
                    if ideographs {
                        piece(b)
                    } else {
                        isolate_fancy(words, b, piece)
                    }
                })
            }),
        }
    }
}

/// Splits `text` into matches and the gaps between them (HF's `Isolated`),
/// telling each piece whether it matched.
fn isolate(re: &regex::Regex, text: &str, piece: &mut impl FnMut(&str, bool)) {
    let mut at = 0;
    for m in re.find_iter(text) {
        if m.start() > at {
            piece(&text[at..m.start()], false);
        }
        piece(m.as_str(), true);
        at = m.end();
    }
    if at < text.len() {
        piece(&text[at..], false);
    }
}

/// [`isolate`] for a pattern with lookaround. Should the backtracking
/// engine give up on a match (its step limit, on hostile input), the rest
/// of the text becomes one piece: still counted, only cut differently from
/// the provider's, rather than a panic or a silent zero.
fn isolate_fancy(re: &Regex, text: &str, piece: &mut impl FnMut(&str)) {
    let mut at = 0;
    for m in re.find_iter(text) {
        let Ok(m) = m else { break };
        if m.start() > at {
            piece(&text[at..m.start()]);
        }
        piece(m.as_str());
        at = m.end();
    }
    if at < text.len() {
        piece(&text[at..]);
    }
}

/// Pieces longer than this are merged on a heap ([`merge_count`]).
pub const LARGE_PIECE: usize = 256;

/// A rank table and the splitter that feeds it.
pub struct RankBpe {
    ranks: FxHashMap<Vec<u8>, Rank>,
    splitter: Splitter,
    /// Whether text is NFC-normalized first (Qwen's tokenizer does).
    nfc: bool,
}

impl RankBpe {
    /// Builds from tiktoken-format text, keeping ranks below `max_rank`.
    pub fn from_tiktoken(
        table: &str,
        max_rank: Option<Rank>,
        splitter: Splitter,
    ) -> Result<Self, LoadError> {
        let mut ranks = FxHashMap::default();
        ranks.reserve(table.len() / 16);
        for (n, line) in table.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let parsed = line.split_once(' ').and_then(|(token, rank)| {
                Some((STANDARD.decode(token).ok()?, rank.parse::<Rank>().ok()?))
            });
            let Some((token, rank)) = parsed else {
                return Err(LoadError::BadLine(n + 1));
            };
            if max_rank.is_none_or(|max| rank < max) {
                ranks.insert(token, rank);
            }
        }
        Self::from_ranks(ranks, splitter)
    }

    /// Builds from a rank map, checking it is byte-complete so that BPE can
    /// always fall back to single bytes (tiktoken-rs indexes, never fails).
    pub fn from_ranks(
        ranks: FxHashMap<Vec<u8>, Rank>,
        splitter: Splitter,
    ) -> Result<Self, LoadError> {
        if let Some(byte) = (0..=255u8).find(|b| !ranks.contains_key(&[*b][..])) {
            return Err(LoadError::MissingByte(byte));
        }
        Ok(RankBpe {
            ranks,
            splitter,
            nfc: false,
        })
    }

    /// Normalizes text to NFC before counting, as Qwen's tokenizer does.
    pub fn with_nfc(mut self) -> Self {
        self.nfc = true;
        self
    }

    /// The number of tokens `text` encodes to (special-token text counts as
    /// ordinary text, as providers treat it in user content).
    pub fn count(&self, text: &str) -> u32 {
        use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
        if self.nfc && is_nfc_quick(text.chars()) != IsNormalized::Yes {
            let normal: String = text.nfc().collect();
            return self.count_normal(&normal);
        }
        self.count_normal(text)
    }

    fn count_normal(&self, text: &str) -> u32 {
        let mut total = 0u32;
        self.splitter.for_each_piece(text, &mut |piece| {
            let bytes = piece.as_bytes();
            // A piece in the table is one token (a single byte always is);
            // tiktoken-rs's merge wants at least two bytes.
            let n = if bytes.len() < 2 || self.ranks.contains_key(bytes) {
                usize::from(!bytes.is_empty())
            } else if bytes.len() <= LARGE_PIECE {
                byte_pair_split(bytes, &self.ranks).len()
            } else {
                merge_count(bytes, &self.ranks)
            };
            total = total.saturating_add(n as u32);
        });
        total
    }

    /// How many ranks the table holds.
    pub fn rank_count(&self) -> usize {
        self.ranks.len()
    }
}

/// Tokens of `piece` under rank-ordered BPE: repeatedly merge the adjacent
/// pair whose concatenation has the lowest rank (leftmost on ties) until no
/// pair is in the table. O(n log n): parts form a linked list, candidate
/// merges sit in a min-heap keyed by (rank, start), and an entry whose
/// parts changed since it was pushed is skipped when popped.
pub fn merge_count(piece: &[u8], ranks: &FxHashMap<Vec<u8>, Rank>) -> usize {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let n = piece.len();
    // Part i spans piece[i..end[i]]; next[i] is the following part's start
    // (n at the end), prev[i] the previous one's (usize::MAX at the front).
    let mut end: Vec<usize> = (1..=n).collect();
    let mut next: Vec<usize> = (1..=n).collect();
    let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
    let mut alive = vec![true; n];
    let pair_rank = |i: usize, end: &[usize], next: &[usize]| -> Option<Rank> {
        let j = next[i];
        (j < n)
            .then(|| ranks.get(&piece[i..end[j]]).copied())
            .flatten()
    };
    let mut heap = BinaryHeap::with_capacity(n);
    for i in 0..n {
        if let Some(rank) = pair_rank(i, &end, &next) {
            heap.push(Reverse((rank, i)));
        }
    }
    let mut parts = n;
    while let Some(Reverse((rank, i))) = heap.pop() {
        if !alive[i] || pair_rank(i, &end, &next) != Some(rank) {
            continue;
        }
        let j = next[i];
        end[i] = end[j];
        next[i] = next[j];
        if next[j] < n {
            prev[next[j]] = i;
        }
        alive[j] = false;
        parts -= 1;
        if let Some(rank) = pair_rank(i, &end, &next) {
            heap.push(Reverse((rank, i)));
        }
        let p = prev[i];
        if p != usize::MAX
            && let Some(rank) = pair_rank(p, &end, &next)
        {
            heap.push(Reverse((rank, p)));
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy table over "ab": bytes, then a few merges in rank order.
    fn toy() -> FxHashMap<Vec<u8>, Rank> {
        let mut ranks: FxHashMap<Vec<u8>, Rank> =
            (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
        for (i, t) in ["ab", "ba", "aab", "abab", "bb", "aa", "abb", "baab"]
            .iter()
            .enumerate()
        {
            ranks.insert(t.as_bytes().to_vec(), 256 + i as Rank);
        }
        ranks
    }

    #[test]
    fn heap_merge_agrees_with_tiktoken_rs_merge() {
        let ranks = toy();
        let mut rng = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1du64);
        for len in 2..300 {
            let seed = rng();
            let piece: Vec<u8> = (0..len)
                .map(|k| {
                    if (seed >> (k % 64)) & 1 == 1 {
                        b'a'
                    } else {
                        b'b'
                    }
                })
                .collect();
            assert_eq!(
                merge_count(&piece, &ranks),
                byte_pair_split(&piece, &ranks).len(),
                "{}",
                String::from_utf8_lossy(&piece)
            );
        }
    }

    #[test]
    fn a_table_missing_a_byte_is_refused() {
        let mut ranks = toy();
        ranks.remove(&vec![b'x']);
        let splitter = Splitter::pattern(r"\S+|\s+").expect("pattern");
        assert!(matches!(
            RankBpe::from_ranks(ranks, splitter),
            Err(LoadError::MissingByte(b'x'))
        ));
    }
}
