//! Prompt complexity for routing a request to a cheaper or a stronger model:
//! a weighted score of cheap signals (prompt length, tools, reasoning, keywords).

/// Weights of each signal; configured per router.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComplexityWeights {
    /// A prompt this long (in chars) or longer scores the full prompt weight.
    pub long_prompt_chars: u64,
    pub prompt_weight: f64,
    pub tools_weight: f64,
    pub reasoning_weight: f64,
    pub keyword_weight: f64,
}

/// What the gateway observed about one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ComplexitySignals {
    pub prompt_chars: u64,
    pub has_tools: bool,
    pub reasoning: bool,
    pub keyword_hits: u32,
}

/// Keyword hits at which the keyword signal saturates.
const KEYWORD_SATURATION: f64 = 2.0;

/// Score in [0,1]: prompt_weight·min(1, chars/long_prompt_chars) + tools_weight·[tools] + reasoning_weight·[reasoning]
/// + keyword_weight·min(1, hits/2), capped at 1.
pub fn complexity_score(s: &ComplexitySignals, w: &ComplexityWeights) -> f64 {
    // A zero threshold means any prompt counts as long.
    let prompt = if w.long_prompt_chars == 0 {
        if s.prompt_chars > 0 { 1.0 } else { 0.0 }
    } else {
        (s.prompt_chars as f64 / w.long_prompt_chars as f64).min(1.0)
    };
    let keywords = (f64::from(s.keyword_hits) / KEYWORD_SATURATION).min(1.0);
    let score = w.prompt_weight * prompt
        + w.tools_weight * f64::from(u8::from(s.has_tools))
        + w.reasoning_weight * f64::from(u8::from(s.reasoning))
        + w.keyword_weight * keywords;
    // Negative weights from a misconfiguration must not leave [0, 1]; NaN reads as 0.
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

/// Text is lower-cased into a stack buffer this big, one piece at a time.
const CHUNK: usize = 4096;
/// Keywords counted together over one lower-cased pass of the text.
const GROUP: usize = 32;
/// Longer keywords would leave the chunks too little room to advance.
const MAX_KEYWORD: usize = 1024;

/// Case-insensitive (ASCII) count of keyword occurrences in `text`; keywords given lower-cased;
/// a keyword may contain spaces ("step by step"); no allocation per call beyond none.
///
/// Occurrences are substrings, counted left to right without overlap per
/// keyword ("prove" also hits "improve"); the spaces in a keyword match
/// single spaces only. Empty keywords and keywords over 1 KiB count nothing.
pub fn count_keywords(text: &str, keywords_lower: &[String]) -> u32 {
    keywords_lower
        .chunks(GROUP)
        .map(|group| count_group(text, group))
        .fold(0u32, u32::saturating_add)
}

/// Lower-cases `text` a chunk at a time into a stack buffer and lets std's
/// substring search (two-way, far faster than a byte-by-byte compare) find
/// each keyword there. Chunks overlap by the longest keyword minus one so a
/// keyword cut by a chunk end is found whole in the next chunk; each
/// keyword's search resumes after its last match, which both skips matches
/// seen twice in the overlap and keeps the count non-overlapping.
fn count_group(text: &str, group: &[String]) -> u32 {
    let usable = |k: &String| !k.is_empty() && k.len() <= MAX_KEYWORD;
    let longest = group.iter().filter(|k| usable(k)).map(String::len).max();
    let Some(longest) = longest else {
        return 0;
    };
    let mut resume_at = [0usize; GROUP];
    let mut buf = [0u8; CHUNK];
    let mut hits = 0u32;
    let mut start = 0;
    loop {
        let end = floor_char_boundary(text, (start + CHUNK).min(text.len()));
        let lower = &mut buf[..end - start];
        lower.copy_from_slice(&text.as_bytes()[start..end]);
        // ASCII lower-casing leaves multi-byte characters intact and the
        // chunk ends on character boundaries, so this is still UTF-8.
        lower.make_ascii_lowercase();
        let chunk = std::str::from_utf8(lower).unwrap_or_default();
        for (keyword, resume) in group.iter().zip(resume_at.iter_mut()) {
            if !usable(keyword) {
                continue;
            }
            // Match ends are character boundaries; `get` keeps this panic-free regardless.
            let from = (*resume).max(start) - start;
            let Some(rest) = chunk.get(from..) else {
                continue;
            };
            for (at, _) in rest.match_indices(keyword.as_str()) {
                hits = hits.saturating_add(1);
                *resume = start + from + at + keyword.len();
            }
        }
        if end == text.len() {
            return hits;
        }
        start = floor_char_boundary(text, end - (longest - 1));
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEIGHTS: ComplexityWeights = ComplexityWeights {
        long_prompt_chars: 8_000,
        prompt_weight: 0.4,
        tools_weight: 0.2,
        reasoning_weight: 0.3,
        keyword_weight: 0.2,
    };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn scores_each_signal_by_its_weight() {
        let none = ComplexitySignals::default();
        assert_eq!(complexity_score(&none, &WEIGHTS), 0.0);
        let half_prompt = ComplexitySignals {
            prompt_chars: 4_000,
            ..none
        };
        assert!(close(complexity_score(&half_prompt, &WEIGHTS), 0.2));
        let tools_one_keyword = ComplexitySignals {
            has_tools: true,
            keyword_hits: 1,
            ..none
        };
        assert!(close(complexity_score(&tools_one_keyword, &WEIGHTS), 0.3));
        let reasoning_many_keywords = ComplexitySignals {
            reasoning: true,
            keyword_hits: 40,
            ..none
        };
        assert!(close(
            complexity_score(&reasoning_many_keywords, &WEIGHTS),
            0.5
        ));
    }

    #[test]
    fn score_is_capped_at_one() {
        let everything = ComplexitySignals {
            prompt_chars: 1_000_000,
            has_tools: true,
            reasoning: true,
            keyword_hits: 9,
        };
        // 0.4 + 0.2 + 0.3 + 0.2 = 1.1 before the cap.
        assert_eq!(complexity_score(&everything, &WEIGHTS), 1.0);
    }

    #[test]
    fn odd_weights_stay_in_range() {
        let s = ComplexitySignals {
            prompt_chars: 10,
            ..ComplexitySignals::default()
        };
        let zero_threshold = ComplexityWeights {
            long_prompt_chars: 0,
            ..WEIGHTS
        };
        assert!(close(complexity_score(&s, &zero_threshold), 0.4));
        let negative = ComplexityWeights {
            prompt_weight: -5.0,
            ..WEIGHTS
        };
        assert_eq!(complexity_score(&s, &negative), 0.0);
    }

    #[test]
    fn counts_keywords_case_insensitively() {
        let keywords = vec!["prove".to_string(), "step by step".to_string()];
        let text = "Please PROVE this, Step By Step, then prove it again step by step.";
        assert_eq!(count_keywords(text, &keywords), 4);
        assert_eq!(
            count_keywords("step  by step", &keywords),
            0,
            "single spaces only"
        );
        assert_eq!(count_keywords("step by", &keywords), 0);
        assert_eq!(count_keywords("", &keywords), 0);
    }

    #[test]
    fn keyword_occurrences_do_not_overlap() {
        let keywords = vec!["aa".to_string()];
        assert_eq!(count_keywords("aAaA", &keywords), 2);
        assert_eq!(count_keywords("aaa", &keywords), 1);
        assert_eq!(count_keywords("anything", &[String::new()]), 0);
    }

    /// The obvious implementation, with allocation: the oracle.
    fn lower_and_match(text: &str, keywords: &[String]) -> u32 {
        let lower = text.to_ascii_lowercase();
        let counted = keywords.iter().filter(|k| !k.is_empty());
        counted
            .map(|k| lower.matches(k.as_str()).count() as u32)
            .sum()
    }

    #[test]
    fn long_texts_count_across_chunk_boundaries() {
        let keywords: Vec<String> = ["aa", "step by step", "é", "analyse"]
            .map(String::from)
            .to_vec();
        // A 33-byte cycle against 4 KiB chunks puts chunk ends at a
        // different phase each time: keywords and the two-byte "é" get cut.
        let mut text = String::new();
        for i in 0..3_000 {
            text.push_str(["aAa Step by STEP ", "é", "xx analyse", "bc", "aa"][i % 5]);
        }
        assert!(text.len() > 4 * CHUNK);
        assert_eq!(
            count_keywords(&text, &keywords),
            lower_and_match(&text, &keywords)
        );
        for cut in [CHUNK - 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5] {
            let cut = floor_char_boundary(&text, cut);
            let piece = &text[..cut];
            assert_eq!(
                count_keywords(piece, &keywords),
                lower_and_match(piece, &keywords)
            );
        }
    }

    #[test]
    fn many_keywords_are_counted_in_groups() {
        let keywords: Vec<String> = (0..100).map(|i| format!("k{i}x")).collect();
        let text: String = (0..100).map(|i| format!("K{i}X ")).collect();
        assert_eq!(count_keywords(&text, &keywords), 100);
    }

    #[test]
    fn non_ascii_text_is_matched_bytewise() {
        let keywords = vec!["analyse".to_string()];
        assert_eq!(
            count_keywords("Écrire puis ANALYSE — analyse", &keywords),
            2
        );
    }
}
