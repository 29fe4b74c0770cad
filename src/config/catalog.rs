//! The `[catalog."<upstream model>"]` tables: per-model figures that
//! override or extend the built-in model catalog. Every field is optional;
//! `context_window::catalog` merges them and says what is wrong.

use serde::Deserialize;

/// One model's figures, as the config (and the built-in catalog file) give
/// them. Absent fields keep the built-in value; for a model the catalog
/// lacks, `context_window` is required and the rest have defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogOverride {
    /// Start from this built-in entry (e.g. a fine-tune `like = "gpt-4o"`)
    /// instead of the one the table's name resolves to.
    #[serde(default)]
    pub like: Option<String>,
    /// Tokens the prompt and the output may take together.
    #[serde(default)]
    pub context_window: Option<u32>,
    /// A cap on the prompt alone, where the provider has one.
    #[serde(default)]
    pub max_input_tokens: Option<u32>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Output budget assumed when a request sets no `max_tokens`.
    #[serde(default)]
    pub default_output_tokens: Option<u32>,
    /// `o200k`, `cl100k`, `claude`, `gemini`, `mistral_tekken`, `qwen`,
    /// `llama3`, `deepseek`, `grok` or `unknown`.
    #[serde(default)]
    pub tokenizer: Option<String>,
    /// USD per 1M tokens; each field overrides one price.
    #[serde(default)]
    pub price: Option<PriceFields>,
    /// Higher prices past a prompt size; replaces the built-in tiers whole.
    #[serde(default)]
    pub tiers: Option<Vec<TierFields>>,
    /// Where the figures come from (default: the config).
    #[serde(default)]
    pub source: Option<String>,
    /// When they were checked, `YYYY-MM-DD`.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// Prices in USD per 1M tokens; absent = unknown (or, for a tier, the base price).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriceFields {
    #[serde(default)]
    pub input: Option<f64>,
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Anthropic cache writes kept 5 minutes; absent = the input price.
    #[serde(default)]
    pub cache_write_5m: Option<f64>,
    /// Anthropic cache writes kept 1 hour; absent = the input price.
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    #[serde(default)]
    pub output: Option<f64>,
    /// Reasoning tokens; absent = the output price.
    #[serde(default)]
    pub reasoning: Option<f64>,
}

/// The prices charged once the prompt is larger than `above_prompt_tokens`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TierFields {
    pub above_prompt_tokens: u32,
    #[serde(default)]
    pub input: Option<f64>,
    #[serde(default)]
    pub cached_input: Option<f64>,
    #[serde(default)]
    pub cache_write_5m: Option<f64>,
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    #[serde(default)]
    pub output: Option<f64>,
    #[serde(default)]
    pub reasoning: Option<f64>,
}

impl TierFields {
    pub fn prices(&self) -> PriceFields {
        PriceFields {
            input: self.input,
            cached_input: self.cached_input,
            cache_write_5m: self.cache_write_5m,
            cache_write_1h: self.cache_write_1h,
            output: self.output,
            reasoning: self.reasoning,
        }
    }
}

impl PriceFields {
    /// `self` with every field `over` sets replaced.
    pub fn merged(self, over: &PriceFields) -> PriceFields {
        PriceFields {
            input: over.input.or(self.input),
            cached_input: over.cached_input.or(self.cached_input),
            cache_write_5m: over.cache_write_5m.or(self.cache_write_5m),
            cache_write_1h: over.cache_write_1h.or(self.cache_write_1h),
            output: over.output.or(self.output),
            reasoning: over.reasoning.or(self.reasoning),
        }
    }
}

impl CatalogOverride {
    /// `self` (a built-in entry's figures) with every field `over` sets replaced.
    pub fn merged(&self, over: &CatalogOverride) -> CatalogOverride {
        let price = match (self.price, over.price) {
            (Some(base), Some(o)) => Some(base.merged(&o)),
            (base, o) => o.or(base),
        };
        CatalogOverride {
            like: None,
            context_window: over.context_window.or(self.context_window),
            max_input_tokens: over.max_input_tokens.or(self.max_input_tokens),
            max_output_tokens: over.max_output_tokens.or(self.max_output_tokens),
            default_output_tokens: over.default_output_tokens.or(self.default_output_tokens),
            tokenizer: over.tokenizer.clone().or_else(|| self.tokenizer.clone()),
            price,
            tiers: over.tiers.clone().or_else(|| self.tiers.clone()),
            source: over.source.clone().or_else(|| self.source.clone()),
            as_of: over.as_of.clone().or_else(|| self.as_of.clone()),
        }
    }
}
