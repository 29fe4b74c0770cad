//! Fitting one request into one target's context window: pure, no I/O. The
//! caller counts with the target's [`CountTokens`], passes the target's
//! [`Budget`] and the configured [`Strategy`] order, and acts on the
//! [`FitOutcome`] (send, answer 400, move to a bigger model, or summarize
//! and fit again).
//!
//! # The rule
//!
//! Prompt tokens plus the output budget (the requested `max_tokens`, else the
//! model's default output) must not pass the window. When the prompt fits
//! but the requested output does not, and the route allows it, `max_tokens`
//! is lowered to the room left (never below [`FitOptions::min_output_tokens`]
//! or a reasoning budget) instead of anything being dropped. Otherwise the
//! strategies run in the configured order, each on what the previous ones
//! left, until one brings the prompt under `window − output`; `reject`,
//! `bigger_model` and `summarize` hand the decision back to the caller.
//! The request is changed only when the outcome is `Fits` or `Fitted`.
//!
//! # Invariants, whatever the strategy
//!
//! - System and developer prompts stay, where they were.
//! - The latest user message and everything after it stay (an agent's tool
//!   loop in progress, whose first assistant message carries the thinking
//!   the provider wants back). Only `compress_tool_results` reaches into
//!   that loop, stubbing the results of its older rounds.
//! - Turns are dropped whole, and only at cut points: user messages that no
//!   tool call / tool result pair straddles. So a call and its results (all
//!   of them, for parallel calls) go together, an assistant message keeps its
//!   reasoning blocks (Anthropic thinking and signatures, Gemini signatures,
//!   which ride in tool-call ids), and after a drop the first unpinned
//!   message is a user turn.
//! - A kept message is the very value the client sent, so whatever it
//!   carries (reasoning, ids, images, and any cache marker the canonical
//!   model may carry later) survives. The one rewrite is
//!   `compress_tool_results`, which replaces an old tool result's content
//!   by a stub and keeps its role, call id, error flag and name.
//!
//! # Prefix stability: drop in blocks
//!
//! Providers cache a prompt's prefix. Dropping "just enough" each time would
//! move the cut one turn per request of a growing conversation and miss the
//! cache every time. Instead a strategy's possible cuts are laid on a grid
//! of blocks of `window × (100 − low_water_percent) / 100` tokens, counted
//! from the start of what it may remove, and the first grid cut that frees
//! enough is taken (`blocks.rs`). Fitting is stateless, yet the grid depends
//! only on messages that never change as the conversation grows, so the next
//! requests make the same cut, and the fitted requests share their prefix,
//! until the kept part outgrows the limit (`window − output`); then the
//! cut moves by about a block, leaving the prompt about a block under the
//! limit (with the default 70 % low-water mark, 30 % of the window free
//! for the next turns). In a chain of shrinking strategies
//! each but the last stops at its last grid cut and leaves the rest to the
//! next, so the chain's combined cut is stable too; only the last may stop
//! off the grid, when no grid cut is enough and little is left to keep
//! (`decide.rs`).

mod blocks;
mod compress;
mod conversation;
mod decide;
mod middle_out;
mod summarize;
mod truncate;

#[cfg(test)]
mod tests;

use std::ops::Range;

pub use compress::stub_text;
pub use summarize::{SUMMARY_HEADING, StaleSummaryRange, apply_summary, summary_source};

use super::CountTokens;
use crate::canonical::ChatRequest;

/// One way to make a request fit, as named in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Refuse with a 400 naming the counts.
    Reject,
    /// Hand over to a configured fallback with a larger window.
    BiggerModel,
    /// Drop the oldest turns.
    Truncate,
    /// Stub old tool results with their size and hash.
    CompressToolResults,
    /// Keep the head and the tail, drop the oldest turns after the head.
    MiddleOut,
    /// Condense the oldest turns with a cheap model.
    Summarize,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Reject => "reject",
            Strategy::BiggerModel => "bigger_model",
            Strategy::Truncate => "truncate",
            Strategy::CompressToolResults => "compress_tool_results",
            Strategy::MiddleOut => "middle_out",
            Strategy::Summarize => "summarize",
        }
    }
}

/// The target's room: its window and the output the request will take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub window: u32,
    /// The request's `max_tokens`, if it set one.
    pub max_output: Option<u32>,
    /// What the model is assumed to answer with when `max_output` is unset.
    pub default_output: u32,
    /// The route allows lowering `max_tokens` to the room left.
    pub may_lower_max_tokens: bool,
}

impl Budget {
    /// The output the prompt must leave room for.
    pub fn output(&self) -> u32 {
        self.max_output.unwrap_or(self.default_output)
    }
}

/// Tuning that config may override; the defaults suit most routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitOptions {
    /// The block is `100 −` this percent of the window: a drop moves the
    /// cut by about a block, so the prompt lands about a block under the
    /// limit and stays put for that many tokens of growth. Clamped to 10..=99.
    pub low_water_percent: u8,
    /// `max_tokens` is never lowered below this (nor below what was asked).
    pub min_output_tokens: u32,
    /// User turns `middle_out` keeps at the head (at least 1).
    pub head_turns: usize,
    /// Tool results smaller than this are not worth a stub.
    pub compress_min_tokens: u32,
    /// The room `summarize` plans for the summary.
    pub summary_tokens: u32,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            low_water_percent: 70,
            min_output_tokens: 1024,
            head_turns: 1,
            compress_min_tokens: 256,
            summary_tokens: 1024,
        }
    }
}

/// What fitting removed, for the response headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedSummary {
    pub messages: u32,
    pub tool_results_compressed: u32,
    /// Prompt tokens before minus after.
    pub tokens: u32,
}

impl DroppedSummary {
    /// `messages=12, tool_results=3, tokens=45678`, for a response header.
    pub fn header_value(&self) -> String {
        format!(
            "messages={}, tool_results={}, tokens={}",
            self.messages, self.tool_results_compressed, self.tokens
        )
    }
}

/// Strategy names joined with `,` (`compress_tool_results,truncate`), for a
/// response header.
pub fn strategies_header_value(applied: &[Strategy]) -> String {
    let names: Vec<&str> = applied.iter().map(|s| s.as_str()).collect();
    names.join(",")
}

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitOutcome {
    /// It fits as is (with `max_tokens` lowered, when that was enough and
    /// allowed; the request already carries the new value).
    Fits {
        prompt_tokens: u32,
        lowered_max_tokens: Option<u32>,
    },
    /// The strategies in `applied` (in order) made it fit; the request is
    /// rewritten. `prompt_tokens` is the count after.
    Fitted {
        prompt_tokens: u32,
        applied: Vec<Strategy>,
        dropped: DroppedSummary,
        lowered_max_tokens: Option<u32>,
    },
    /// Refuse: the prompt (as sent) and output do not fit the window.
    Reject {
        prompt_tokens: u32,
        max_output: u32,
        window: u32,
    },
    /// Send to a fallback whose window holds `needed_window`, and fit again
    /// for it. With none configured, call [`fit`] with `strategies[next..]`.
    BiggerModel {
        prompt_tokens: u32,
        needed_window: u32,
        next: usize,
    },
    /// Condense the unpinned messages in `range` (see [`summary_source`])
    /// into at most `max_summary_tokens`, [`apply_summary`], then fit again
    /// with the same strategies (that fit cannot tell a summary was made:
    /// report `summarize` yourself). If the summary cannot be had, call
    /// [`fit`] with `strategies[next..]`.
    NeedsSummary {
        prompt_tokens: u32,
        range: Range<usize>,
        range_tokens: u32,
        max_summary_tokens: u32,
        next: usize,
    },
}

impl FitOutcome {
    /// The estimated prompt tokens of the request as it now stands (after
    /// fitting for `Fitted`, as sent otherwise).
    pub fn prompt_tokens(&self) -> u32 {
        match self {
            FitOutcome::Fits { prompt_tokens, .. }
            | FitOutcome::Fitted { prompt_tokens, .. }
            | FitOutcome::Reject { prompt_tokens, .. }
            | FitOutcome::BiggerModel { prompt_tokens, .. }
            | FitOutcome::NeedsSummary { prompt_tokens, .. } => *prompt_tokens,
        }
    }
}

/// Fits `request` into `budget`, trying `strategies` in order.
pub fn fit(
    request: &mut ChatRequest,
    counter: &dyn CountTokens,
    budget: &Budget,
    strategies: &[Strategy],
    options: &FitOptions,
) -> FitOutcome {
    let (outcome, edit) = decide::decide(request, counter, budget, strategies, options);
    if let Some(edit) = edit {
        edit.apply(request);
    }
    outcome
}
