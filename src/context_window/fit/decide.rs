//! The driver: counts once, settles what fits or needs only a lower
//! `max_tokens`, then walks the strategy list, and returns the outcome with
//! the [`Edit`] to make, without touching the request itself.
//!
//! Consecutive shrinking strategies (`truncate`, `middle_out`,
//! `compress_tool_results`) form a run and work cumulatively, each on what
//! the previous left. Within a run only the last may stop off the block
//! grid; the others do at most their last grid cut and leave the rest to the
//! next, so their combined cut stays stable as the conversation grows. A
//! run is tried, in order of preference: on the grid at the full output
//! budget; with every strategy exact; then both again at the lowered output
//! budget when the route allows lowering `max_tokens`.

use super::blocks::Aim;
use super::conversation::{Conversation, Ledger};
use super::{Budget, DroppedSummary, FitOptions, FitOutcome, Strategy};
use super::{compress, middle_out, summarize, truncate};
use crate::canonical::ChatRequest;
use crate::context_window::CountTokens;

/// The changes a `Fitted` or lowered `Fits` makes to the request.
pub(super) struct Edit {
    dropped: Vec<bool>,
    stubs: Vec<(usize, String)>,
    max_output_tokens: Option<u32>,
}

impl Edit {
    pub fn apply(self, request: &mut ChatRequest) {
        for (i, text) in self.stubs {
            if let Some(m) = request.messages.get_mut(i) {
                *m = compress::stubbed(m, text);
            }
        }
        let mut i = 0;
        request.messages.retain(|_| {
            i += 1;
            !self.dropped.get(i - 1).copied().unwrap_or(false)
        });
        if self.max_output_tokens.is_some() {
            request.sampling.max_output_tokens = self.max_output_tokens;
        }
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn shrinks(strategy: Strategy) -> bool {
    matches!(
        strategy,
        Strategy::Truncate | Strategy::MiddleOut | Strategy::CompressToolResults
    )
}

/// The fixed facts of one call to `fit`.
struct Fitting<'c> {
    conv: Conversation<'c>,
    options: &'c FitOptions,
    block: u64,
    window: u64,
    output: u64,
    /// The least output `max_tokens` may come down to; `None` when the
    /// route does not allow lowering or there is nothing to lower.
    floor: Option<u64>,
}

impl Fitting<'_> {
    fn shrink(&self, strategy: Strategy, ledger: &mut Ledger, aim: Aim) -> bool {
        let conv = &self.conv;
        match strategy {
            Strategy::Truncate => truncate::truncate(conv, ledger, aim),
            Strategy::MiddleOut => {
                middle_out::middle_out(conv, ledger, aim, self.options.head_turns)
            }
            Strategy::CompressToolResults => {
                compress::compress(conv, ledger, aim, self.options.compress_min_tokens)
            }
            Strategy::Reject | Strategy::BiggerModel | Strategy::Summarize => false,
        }
    }

    /// Runs `run` from `start`; the ledger it ends with, the strategies that
    /// freed something, and whether it fits `limit`.
    fn run(
        &self,
        start: &Ledger,
        run: &[Strategy],
        limit: u64,
        all_exact: bool,
    ) -> (Ledger, Vec<Strategy>, bool) {
        let mut ledger = start.clone();
        let mut applied = Vec::new();
        for (i, &strategy) in run.iter().enumerate() {
            let aim = Aim {
                limit,
                block: self.block,
                exact: all_exact || i + 1 == run.len(),
            };
            let before = ledger.prompt;
            let fits = self.shrink(strategy, &mut ledger, aim);
            if ledger.prompt < before {
                applied.push(strategy);
            }
            if fits {
                return (ledger, applied, true);
            }
        }
        (ledger, applied, false)
    }

    /// The first way, in order of preference, that `run` fits; `Err` with
    /// what its grid pass at the full output budget left, for the rest of
    /// the list to go on from.
    fn fit_run(
        &self,
        start: &Ledger,
        run: &[Strategy],
    ) -> Result<(Ledger, Vec<Strategy>), (Ledger, Vec<Strategy>)> {
        let full = self.window.saturating_sub(self.output);
        let mut limits = vec![full];
        limits.extend(self.floor.map(|f| self.window.saturating_sub(f)));
        let mut first = None;
        for limit in limits {
            for all_exact in [false, true] {
                if all_exact && run.len() == 1 {
                    continue;
                }
                let (ledger, applied, fits) = self.run(start, run, limit, all_exact);
                if fits {
                    return Ok((ledger, applied));
                }
                first.get_or_insert((ledger, applied));
            }
        }
        Err(first.unwrap_or_else(|| (start.clone(), Vec::new())))
    }

    /// `max_tokens` lowered to the room a prompt leaves, when it must be.
    fn lowered(&self, prompt: u64) -> Option<u32> {
        (self.floor.is_some() && prompt + self.output > self.window)
            .then(|| clamp(self.window - prompt))
    }
}

/// The outcome, and the edit to make, without touching the request.
pub(super) fn decide(
    request: &ChatRequest,
    counter: &dyn CountTokens,
    budget: &Budget,
    strategies: &[Strategy],
    options: &FitOptions,
) -> (FitOutcome, Option<Edit>) {
    let conv = Conversation::analyse(request, counter);
    let prompt = conv.prompt_tokens();
    let window = u64::from(budget.window);
    let output = u64::from(budget.output());
    let floor = u64::from(output_floor(request, budget, options));
    let low_water = u64::from(options.low_water_percent.clamp(10, 99));
    let fitting = Fitting {
        conv,
        options,
        block: (window * (100 - low_water) / 100).max(1),
        window,
        output,
        floor: (budget.may_lower_max_tokens && floor < output).then_some(floor),
    };
    if prompt + output <= window || fitting.floor.is_some_and(|f| prompt + f <= window) {
        let lowered_max_tokens = fitting.lowered(prompt);
        let edit = lowered_max_tokens.map(|n| Edit {
            dropped: Vec::new(),
            stubs: Vec::new(),
            max_output_tokens: Some(n),
        });
        let outcome = FitOutcome::Fits {
            prompt_tokens: clamp(prompt),
            lowered_max_tokens,
        };
        return (outcome, edit);
    }
    let mut ledger = Ledger::new(&fitting.conv);
    let mut applied = Vec::new();
    let mut k = 0;
    while let Some(&strategy) = strategies.get(k) {
        match strategy {
            Strategy::Reject => break,
            Strategy::BiggerModel => {
                let outcome = FitOutcome::BiggerModel {
                    prompt_tokens: clamp(prompt),
                    needed_window: clamp(prompt + output),
                    next: k + 1,
                };
                return (outcome, None);
            }
            Strategy::Summarize => {
                let aim = Aim {
                    limit: window.saturating_sub(output),
                    block: fitting.block,
                    exact: true,
                };
                if let Some(plan) =
                    summarize::plan(&fitting.conv, &ledger, aim, options.summary_tokens)
                {
                    let outcome = FitOutcome::NeedsSummary {
                        prompt_tokens: clamp(prompt),
                        range: plan.range,
                        range_tokens: plan.range_tokens,
                        max_summary_tokens: plan.max_summary_tokens,
                        next: k + 1,
                    };
                    return (outcome, None);
                }
                k += 1;
            }
            _ => {
                let end = k + strategies[k..].iter().take_while(|&&s| shrinks(s)).count();
                match fitting.fit_run(&ledger, &strategies[k..end]) {
                    Ok((fitted, more)) => {
                        applied.extend(more);
                        return fitted_outcome(&fitting, prompt, fitted, applied);
                    }
                    Err((partial, more)) => {
                        applied.extend(more);
                        ledger = partial;
                    }
                }
                k = end;
            }
        }
    }
    let outcome = FitOutcome::Reject {
        prompt_tokens: clamp(prompt),
        max_output: budget.output(),
        window: budget.window,
    };
    (outcome, None)
}

fn fitted_outcome(
    fitting: &Fitting<'_>,
    before: u64,
    ledger: Ledger,
    applied: Vec<Strategy>,
) -> (FitOutcome, Option<Edit>) {
    let lowered_max_tokens = fitting.lowered(ledger.prompt);
    let stubs = match fitting.conv.stubs.get() {
        Some(all) => (0..ledger.stubbed.len())
            .filter(|&i| !ledger.dropped[i])
            .filter_map(|i| ledger.stubbed[i].map(|c| (i, all[c as usize].text.clone())))
            .collect(),
        None => Vec::new(),
    };
    let outcome = FitOutcome::Fitted {
        prompt_tokens: clamp(ledger.prompt),
        applied,
        dropped: DroppedSummary {
            messages: ledger.messages_dropped(),
            tool_results_compressed: ledger.results_stubbed(),
            tokens: clamp(before - ledger.prompt),
        },
        lowered_max_tokens,
    };
    let edit = Edit {
        dropped: ledger.dropped,
        stubs,
        max_output_tokens: lowered_max_tokens,
    };
    (outcome, Some(edit))
}

/// The least output `max_tokens` may be lowered to: what was asked, capped
/// by `min_output_tokens`, and above any reasoning budget (Anthropic wants
/// `budget_tokens < max_tokens`).
fn output_floor(request: &ChatRequest, budget: &Budget, options: &FitOptions) -> u32 {
    let asked = budget.output();
    let reasoning = request
        .reasoning
        .and_then(|r| r.budget_tokens)
        .map_or(0, |b| b.saturating_add(1));
    asked
        .min(options.min_output_tokens)
        .max(reasoning)
        .min(asked)
}
