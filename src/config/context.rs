//! `[context]` (defaults for every model) and a model's own `context`
//! table: whether and how a request is fitted into each target's window.

use serde::Deserialize;

pub use crate::context_window::fit::Strategy as FitStrategyName;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// Fit requests at all (a model's table can turn it off or on again).
    pub enabled: bool,
    /// In order; the first that makes the request fit wins. When none does
    /// (or the list is empty), the request is refused with a 400.
    pub strategies: Vec<FitStrategyName>,
    /// A `max_tokens` too large for the room left is lowered (and said so
    /// in `x-tollgate-max-tokens`) instead of refused.
    pub lower_max_tokens: bool,
    /// The model `summarize` asks, through Tollgate's own providers.
    pub summarize_model: Option<String>,
    /// `bigger_model` goes here (appended to the fallbacks if absent).
    pub bigger_model: Option<String>,
    /// Truncating strategies cut down to this share of the window, so the
    /// next requests of a growing conversation keep the same cut.
    pub target_ratio: f64,
    /// `count_tokens` asks an Anthropic or Gemini deployment's own count
    /// endpoint (the local count answers when it cannot).
    pub provider_count: bool,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            enabled: true,
            strategies: vec![FitStrategyName::Reject],
            lower_max_tokens: true,
            summarize_model: None,
            bigger_model: None,
            target_ratio: 0.7,
            provider_count: true,
        }
    }
}

/// A model's own `context = { … }`: each field set here overrides `[context]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelContextConfig {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub strategies: Option<Vec<FitStrategyName>>,
    #[serde(default)]
    pub lower_max_tokens: Option<bool>,
    #[serde(default)]
    pub summarize_model: Option<String>,
    #[serde(default)]
    pub bigger_model: Option<String>,
    #[serde(default)]
    pub target_ratio: Option<f64>,
}

impl ContextConfig {
    /// The settings for one model: its own table over the defaults.
    pub fn for_model(&self, own: Option<&ModelContextConfig>) -> ContextConfig {
        let Some(own) = own else {
            return self.clone();
        };
        ContextConfig {
            enabled: own.enabled.unwrap_or(self.enabled),
            strategies: own
                .strategies
                .clone()
                .unwrap_or_else(|| self.strategies.clone()),
            lower_max_tokens: own.lower_max_tokens.unwrap_or(self.lower_max_tokens),
            summarize_model: own
                .summarize_model
                .clone()
                .or_else(|| self.summarize_model.clone()),
            bigger_model: own
                .bigger_model
                .clone()
                .or_else(|| self.bigger_model.clone()),
            target_ratio: own.target_ratio.unwrap_or(self.target_ratio),
            provider_count: self.provider_count,
        }
    }
}
