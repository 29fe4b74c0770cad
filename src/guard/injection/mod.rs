//! Prompt-injection scoring: a weighted rule set (`rules.rs`, plus the
//! operator's `[guards.injection]` rules) run over user text and, for
//! indirect injection, over tool results and documents, after Unicode
//! tricks are undone (`text.rs`) and encoded runs decoded (`decode.rs`).
//! `Scanner::may_match` (`prefilter.rs`) lets a benign body skip all of it.

mod config;
mod decode;
mod prefilter;
mod rules;
mod text;

use std::sync::Arc;

use regex::bytes::{RegexSet, RegexSetBuilder};

use crate::guard::text::PiiLook;
pub use config::{Action, DEFAULT_THRESHOLD, InjectionConfig, RuleConfig, Source};
use prefilter::Prefilter;
use rules::{
    BASE64_INSTRUCTION, BUILTIN, ENCODED_INSTRUCTION_WEIGHT, ENCODED_TEXT, ENCODED_TEXT_WEIGHT,
    HOMOGLYPH_MIXED_SCRIPT, SHORT_ENCODED_TEXT_WEIGHT, SPECIAL_IDS, TOOL_NAME_MENTION,
    TOOL_NAME_WEIGHT, URL_ENCODED_INSTRUCTION, ZERO_WIDTH_TEXT,
};

/// Tool names shorter than this are common words ("get", "ls").
const MIN_TOOL_NAME: usize = 3;
/// Compiled size limit for the rule set, operator rules included.
const REGEX_SIZE_LIMIT: usize = 32 << 20;

/// One rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: Arc<str>,
    pub weight: f32,
}

/// A text's score (the sum of the distinct rules that fired) and the hits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub score: f32,
    pub hits: Vec<Hit>,
}

impl Verdict {
    /// The heaviest hit: the rule a 400 or a flag header names.
    pub fn top_rule(&self) -> Option<&str> {
        self.hits
            .iter()
            .max_by(|a, b| a.weight.total_cmp(&b.weight))
            .map(|hit| &*hit.rule)
    }

    fn add(&mut self, rule: &Arc<str>, weight: f32) {
        match self.hits.iter_mut().find(|hit| hit.rule == *rule) {
            Some(hit) if hit.weight >= weight => {}
            Some(hit) => {
                self.score += weight - hit.weight;
                hit.weight = weight;
            }
            None => {
                self.score += weight;
                self.hits.push(Hit {
                    rule: rule.clone(),
                    weight,
                });
            }
        }
    }
}

/// A regex rule as compiled: its place in the set is its index here.
struct CompiledRule {
    id: Arc<str>,
    weight: f32,
    sources: u8,
}

/// The rules that are counted or decoded rather than matched; `None` when
/// disabled.
struct Special {
    zero_width: Option<Arc<str>>,
    homoglyph: Option<Arc<str>>,
    base64: Option<Arc<str>>,
    url_encoded: Option<Arc<str>>,
    encoded_text: Option<Arc<str>>,
    tool_name: Option<Arc<str>>,
}

/// Built once per config snapshot; scanning borrows it.
pub struct Scanner {
    set: RegexSet,
    rules: Vec<CompiledRule>,
    special: Special,
    prefilter: Prefilter,
    scan_sources: u8,
    threshold: f32,
    action: Action,
}

impl Scanner {
    /// Compiles the config; an error names the rule at fault.
    pub fn new(config: &InjectionConfig) -> Result<Scanner, String> {
        if !config.threshold.is_finite() || config.threshold <= 0.0 {
            return Err("guards.injection.threshold: must be a positive number".into());
        }
        check_disabled(config)?;
        let enabled = |id: &str| config.builtin && !config.disable.iter().any(|d| d == id);
        let mut patterns = Vec::new();
        let mut rules = Vec::new();
        let mut anchored: Vec<(f32, &[&str])> = Vec::new();
        for rule in BUILTIN.iter().filter(|r| enabled(r.id)) {
            patterns.push(rule.pattern.to_string());
            rules.push(CompiledRule {
                id: rule.id.into(),
                weight: rule.weight,
                sources: config::mask(&Source::ALL),
            });
            anchored.push((rule.weight, rule.anchors));
        }
        let mut unanchored = 0.0;
        for rule in &config.rules {
            check_rule(rule, &rules)?;
            patterns.push(rule.pattern.clone());
            rules.push(CompiledRule {
                id: rule.id.as_str().into(),
                weight: rule.weight,
                sources: config::mask(&rule.sources),
            });
            unanchored += rule.weight;
        }
        let special = Special {
            zero_width: enabled(ZERO_WIDTH_TEXT).then(|| ZERO_WIDTH_TEXT.into()),
            homoglyph: enabled(HOMOGLYPH_MIXED_SCRIPT).then(|| HOMOGLYPH_MIXED_SCRIPT.into()),
            base64: enabled(BASE64_INSTRUCTION).then(|| BASE64_INSTRUCTION.into()),
            url_encoded: enabled(URL_ENCODED_INSTRUCTION).then(|| URL_ENCODED_INSTRUCTION.into()),
            encoded_text: enabled(ENCODED_TEXT).then(|| ENCODED_TEXT.into()),
            tool_name: enabled(TOOL_NAME_MENTION).then(|| TOOL_NAME_MENTION.into()),
        };
        let tool_weight = if special.tool_name.is_some() {
            TOOL_NAME_WEIGHT
        } else {
            0.0
        };
        let set = compile(&patterns).map_err(|e| {
            // a set error does not say which pattern; find it to name it
            let culprit = patterns
                .iter()
                .position(|p| compile(std::slice::from_ref(p)).is_err());
            let id = culprit.map_or("?", |i| &*rules[i].id);
            format!("guards.injection.rules `{id}`: {e}")
        })?;
        Ok(Scanner {
            set,
            rules,
            special,
            prefilter: Prefilter::new(&anchored, unanchored, tool_weight, config.threshold)?,
            scan_sources: config::mask(&config.scan),
            threshold: config.threshold,
            action: config.action,
        })
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn action(&self) -> Action {
        self.action
    }

    /// Whether texts from `source` are scanned at all under this config.
    pub fn scans(&self, source: Source) -> bool {
        self.scan_sources & source.bit() != 0
    }

    /// Cheap and conservative: when false, no text decoded from this raw
    /// JSON body can score at or above the threshold.
    pub fn may_match(&self, raw_json: &[u8]) -> bool {
        self.prefilter.may_match(raw_json)
    }

    /// The same test over one JSON string literal of a body (quotes
    /// included), the first `len` bytes of `raw`, which goes on to the end
    /// of its body (the pass reads on rather than copy the literal's last
    /// bytes): false when the text it holds cannot reach the threshold.
    /// `tools_declared`: the body declares tools (a mention may then count).
    /// True as well where the PII request prefilter looking for `pii`
    /// would be: one pass over the literal answers for both.
    pub fn may_match_literal(
        &self,
        raw: &[u8],
        len: usize,
        tools_declared: bool,
        pii: PiiLook,
    ) -> bool {
        self.prefilter.may_match_in(raw, len, tools_declared, pii)
    }

    /// Scores one text from one part of the conversation. `tool_names` are
    /// the tools the request declares.
    pub fn scan(&self, text: &str, source: Source, tool_names: &[&str]) -> Verdict {
        let mut verdict = Verdict::default();
        if !self.scans(source) {
            return verdict;
        }
        let unicode = text::inspect(text);
        self.score_unicode(&unicode, source, &mut verdict);
        let readable = unicode.folded.as_deref().unwrap_or(text);
        self.match_rules(readable, source, &mut verdict);
        self.score_encoded(readable, source, &mut verdict);
        self.score_tool_names(readable, source, tool_names, &mut verdict);
        verdict
    }

    fn match_rules(&self, text: &str, source: Source, verdict: &mut Verdict) {
        for index in self.set.matches(text.as_bytes()).iter() {
            let rule = &self.rules[index];
            if rule.sources & source.bit() != 0 {
                verdict.add(&rule.id, rule.weight);
            }
        }
    }

    /// The heaviest rule weight in `text`, for decoded and hidden payloads.
    fn inner_weight(&self, text: &str, source: Source) -> f32 {
        let mut inner = Verdict::default();
        self.match_rules(text, source, &mut inner);
        inner.hits.iter().map(|h| h.weight).fold(0.0, f32::max)
    }

    fn score_unicode(&self, found: &text::Unicode, source: Source, verdict: &mut Verdict) {
        if let Some(rule) = &self.special.zero_width {
            let smuggled = found.tag_chars >= 2 || found.selector_chars >= 3;
            let weight: f32 = if smuggled || found.zero_width >= 6 || found.bidi >= 2 {
                1.0
            } else if found.zero_width >= 3 || found.bidi >= 1 {
                0.6
            } else {
                0.0
            };
            let hidden = if smuggled {
                self.inner_weight(&found.hidden, source)
            } else {
                0.0
            };
            if weight > 0.0 {
                verdict.add(rule, weight.max(hidden));
            }
        }
        if let Some(rule) = &self.special.homoglyph {
            match found.mixed_words {
                0 => {}
                1 => verdict.add(rule, 0.6),
                _ => verdict.add(rule, 1.0),
            }
        }
    }

    fn score_encoded(&self, text: &str, source: Source, verdict: &mut Verdict) {
        for run in decode::decoded_runs(text) {
            let inner = if run.long {
                self.inner_weight(&run.text, source)
            } else {
                0.0
            };
            let rule = if run.percent {
                &self.special.url_encoded
            } else {
                &self.special.base64
            };
            match rule {
                Some(rule) if inner > 0.0 => {
                    verdict.add(rule, inner.max(ENCODED_INSTRUCTION_WEIGHT))
                }
                _ if run.percent => {}
                _ => {
                    if let Some(rule) = &self.special.encoded_text {
                        let weight = if run.long {
                            ENCODED_TEXT_WEIGHT
                        } else {
                            SHORT_ENCODED_TEXT_WEIGHT
                        };
                        verdict.add(rule, weight);
                    }
                }
            }
        }
    }

    fn score_tool_names(&self, text: &str, source: Source, tools: &[&str], verdict: &mut Verdict) {
        let Some(rule) = &self.special.tool_name else {
            return;
        };
        if !matches!(source, Source::User | Source::ToolResult | Source::Document) {
            return;
        }
        if tools
            .iter()
            .any(|name| name.len() >= MIN_TOOL_NAME && mentions(text, name))
        {
            verdict.add(rule, TOOL_NAME_WEIGHT);
        }
    }
}

fn compile(patterns: &[String]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

fn check_disabled(config: &InjectionConfig) -> Result<(), String> {
    let known = |id: &str| BUILTIN.iter().any(|r| r.id == id) || SPECIAL_IDS.contains(&id);
    match config.disable.iter().find(|id| !known(id)) {
        Some(id) => Err(format!("guards.injection.disable: no built-in rule `{id}`")),
        None => Ok(()),
    }
}

fn check_rule(rule: &RuleConfig, earlier: &[CompiledRule]) -> Result<(), String> {
    let id = &rule.id;
    let snake = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !snake {
        return Err(format!(
            "guards.injection.rules `{id}`: id must be snake_case"
        ));
    }
    if earlier.iter().any(|r| &*r.id == id) || SPECIAL_IDS.contains(&id.as_str()) {
        return Err(format!("guards.injection.rules `{id}`: id already used"));
    }
    if !rule.weight.is_finite() || rule.weight < 0.0 {
        return Err(format!(
            "guards.injection.rules `{id}`: weight must be a number >= 0"
        ));
    }
    if rule.sources.is_empty() {
        return Err(format!("guards.injection.rules `{id}`: sources is empty"));
    }
    Ok(())
}

/// `name` in `text` as a whole word, ASCII case-insensitively.
fn mentions(text: &str, name: &str) -> bool {
    let hay = text.as_bytes();
    let needle = name.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (0..hay.len().saturating_sub(needle.len() - 1)).any(|at| {
        hay[at..at + needle.len()].eq_ignore_ascii_case(needle)
            && (at == 0 || !word(hay[at - 1]))
            && hay.get(at + needle.len()).is_none_or(|b| !word(*b))
    })
}

#[cfg(test)]
mod tests;
