//! The `[guards.injection]` table: what is scanned, which rules score, and
//! what happens when a text's score reaches the threshold.

use serde::Deserialize;

/// What the gateway does with a request whose score reaches the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse with 400 naming the top rule.
    Block,
    /// Let it through with a header and a note on the delivery record.
    #[default]
    Flag,
    /// Only count and record it.
    Log,
}

/// Where a text came from inside a conversation, in either dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    User,
    System,
    ToolResult,
    Document,
    Assistant,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::User,
        Source::System,
        Source::ToolResult,
        Source::Document,
        Source::Assistant,
    ];

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A bit set of sources, so a rule's "applies here" is one AND.
pub(crate) fn mask(sources: &[Source]) -> u8 {
    sources.iter().fold(0, |m, s| m | s.bit())
}

/// A rule added by the operator: a case-insensitive regex and its weight.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub id: String,
    pub pattern: String,
    pub weight: f32,
    #[serde(default = "all_sources")]
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InjectionConfig {
    pub action: Action,
    /// Score at which the action applies; one strong rule alone reaches
    /// the default, weaker cues have to add up.
    pub threshold: f32,
    /// Use the built-in rule set (`rules.rs`).
    pub builtin: bool,
    /// Built-in rule ids to turn off.
    pub disable: Vec<String>,
    pub rules: Vec<RuleConfig>,
    /// Which parts of a conversation are scanned.
    pub scan: Vec<Source>,
}

/// The threshold tuned on the corpus's dev half.
pub const DEFAULT_THRESHOLD: f32 = 1.0;

impl Default for InjectionConfig {
    fn default() -> Self {
        InjectionConfig {
            action: Action::Flag,
            threshold: DEFAULT_THRESHOLD,
            builtin: true,
            disable: Vec::new(),
            rules: Vec::new(),
            scan: vec![Source::User, Source::ToolResult, Source::Document],
        }
    }
}

fn all_sources() -> Vec<Source> {
    Source::ALL.to_vec()
}
