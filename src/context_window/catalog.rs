//! The model catalog: what each well-known model holds (window, output
//! caps, tokenizer) and costs, shipped in `catalog.toml` with its sources,
//! parsed once on first use into a shared read-only table, and merged with
//! the config's `[catalog."<model>"]` tables into a [`ResolvedCatalog`].

mod data;
mod lookup;
mod report;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::OnceLock;

use super::TokenizerFamily;

pub use data::{parse_date, tokenizer_from_name, tokenizer_name};
pub use lookup::lookup_keys;
pub use report::{render_builtin, render_configured};
pub use resolve::{ResolvedCatalog, check_overrides, configured_upstream_names, log_unknown_once};

/// Output budget assumed when a request sets no `max_tokens` and the entry
/// names no default of its own: the same 4096 Tollgate sends to Anthropic
/// when a client sets none (`models[].default_max_tokens`).
pub const DEFAULT_OUTPUT_CAP: u32 = 4096;

/// Prices in USD per 1M tokens. `None` means no source gave the figure:
/// unknown, never free.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input: Option<f64>,
    /// Input served from the provider's prompt cache.
    pub cached_input: Option<f64>,
    /// Writing a cache entry kept 5 minutes (Anthropic); `None` = the input price.
    pub cache_write_5m: Option<f64>,
    /// Writing a cache entry kept 1 hour (Anthropic); `None` = the input price.
    pub cache_write_1h: Option<f64>,
    pub output: Option<f64>,
    /// Reasoning tokens: the output price unless the provider prices them apart.
    pub reasoning: Option<f64>,
}

/// The prices a provider charges once the prompt is larger than
/// `above_prompt_tokens` (Gemini 2.5 Pro, Claude's 1M beta, Qwen, Grok 4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceTier {
    pub above_prompt_tokens: u32,
    /// Complete: fields the source left out hold the base price.
    pub price: Price,
}

/// Where a resolved entry's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecOrigin {
    BuiltIn,
    /// A built-in entry with fields replaced by `[catalog."<name>"]`.
    Overridden,
    /// A model only the config describes.
    Config,
}

/// One model as Tollgate sees it: the figures fitting and charging use.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The catalog id the name matched (or the config table's name).
    pub id: String,
    /// The family's provider (`openai`, `anthropic`, `gemini`, …).
    pub provider: String,
    /// Tokens the prompt and the output may take together.
    pub context_window: u32,
    /// A cap on the prompt alone, below the window, where the provider has one.
    pub max_input_tokens: Option<u32>,
    pub max_output_tokens: u32,
    /// What to assume when a request sets no `max_tokens`.
    pub default_output_tokens: u32,
    pub tokenizer: TokenizerFamily,
    /// The base prices (prompts up to the first tier).
    pub price: Price,
    /// Ascending by threshold.
    pub tiers: Vec<PriceTier>,
    pub source: String,
    /// `YYYY-MM-DD` the figures were checked, when known.
    pub as_of: Option<String>,
    pub origin: SpecOrigin,
}

impl ModelSpec {
    /// The prices that apply to a prompt of this many tokens.
    pub fn price_for_prompt(&self, prompt_tokens: u32) -> &Price {
        self.tiers
            .iter()
            .rev()
            .find(|t| prompt_tokens > t.above_prompt_tokens)
            .map_or(&self.price, |t| &t.price)
    }

    /// The most prompt tokens that leave room for `output_tokens` of output.
    pub fn prompt_room(&self, output_tokens: u32) -> u32 {
        let room = self.context_window.saturating_sub(output_tokens);
        self.max_input_tokens.map_or(room, |cap| room.min(cap))
    }
}

/// The built-in catalog: every entry, and every name (id or alias,
/// lowercase) that finds one.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: Vec<data::Entry>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// The catalog shipped with the binary, parsed on first use. A broken
    /// file is a build defect (the tests parse it); at run time it leaves
    /// the catalog empty, so every model is unknown, rather than panicking.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Catalog::parse(include_str!("catalog.toml")).unwrap_or_else(|e| {
                eprintln!(
                    "tollgate: the built-in model catalog is unreadable ({e}): no model is fitted"
                );
                Catalog::default()
            })
        })
    }

    /// Reads a catalog file; an error names the entry and field.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let entries = data::parse_entries(text)?;
        let mut by_name = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for name in std::iter::once(&e.spec.id).chain(&e.aliases) {
                if by_name.insert(name.to_ascii_lowercase(), i).is_some() {
                    return Err(format!("the name `{name}` is given to two entries"));
                }
            }
        }
        Ok(Catalog { entries, by_name })
    }

    /// Every entry, in file order.
    pub fn specs(&self) -> impl Iterator<Item = &ModelSpec> {
        self.entries.iter().map(|e| &e.spec)
    }

    /// The entry an upstream model name resolves to: the exact name first,
    /// then the normalisations [`lookup_keys`] gives (provider prefixes,
    /// dated snapshots, `-latest`).
    pub fn get(&self, model: &str) -> Option<&ModelSpec> {
        self.find(model).map(|i| &self.entries[i].spec)
    }

    pub(crate) fn find(&self, model: &str) -> Option<usize> {
        lookup_keys(model)
            .iter()
            .find_map(|k| self.by_name.get(k).copied())
    }

    /// The entry whose id or alias is exactly this name (any case).
    pub(crate) fn find_exact(&self, model: &str) -> Option<usize> {
        self.by_name.get(&model.to_ascii_lowercase()).copied()
    }

    pub(crate) fn entry(&self, index: usize) -> &data::Entry {
        &self.entries[index]
    }

    /// The aliases an entry answers to besides its id.
    pub fn aliases_of(&self, id: &str) -> &[String] {
        self.find_exact(id)
            .map_or(&[], |i| self.entries[i].aliases.as_slice())
    }
}
