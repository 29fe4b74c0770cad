//! The per-attempt step of context fitting: before an attempt is rendered
//! for its deployment, the request is checked against that deployment's
//! window (first target, retries, fallbacks and hedges alike) and, when it
//! does not fit, fitted by the model's configured strategies
//! (`context_window::fit`), the `summarize` call included.
//!
//! It is a per-attempt step rather than a policy stage because the answer
//! depends on the target (a 1M-token model and its 128K fallback), and
//! because a stage sees the canonical parse, which the cheap path must not
//! pay for: a body whose length alone proves it fits is never parsed or
//! counted here.

use std::sync::Arc;

use super::attempt::{Failure, RequestCtx};
use crate::api::ApiError;
use crate::canonical::{ChatRequest, Message, Role, Usage};
use crate::context_window::catalog::ModelSpec;
use crate::context_window::count::{Counter, upper_bound};
use crate::context_window::fit::{
    Budget, DroppedSummary, FitOptions, FitOutcome, Strategy, apply_summary, fit, summary_source,
};
use crate::router::Deployment;

/// What fitting did for one attempt, for the response headers and the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FitReport {
    /// The prompt as the target counts it (after fitting, when fitted).
    pub prompt_tokens: u32,
    /// The strategies that changed the request, in order.
    pub applied: Vec<Strategy>,
    pub dropped: DroppedSummary,
    pub lowered_max_tokens: Option<u32>,
    /// The summarize call: which deployment answered and what it cost.
    pub summary: Option<(String, Option<Usage>)>,
}

impl FitReport {
    /// `x-tollgate-*` headers naming what was counted and done.
    pub fn headers(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut out = vec![(
            "x-tollgate-prompt-tokens",
            self.prompt_tokens.to_string().into_bytes(),
        )];
        if !self.applied.is_empty() {
            out.push((
                "x-tollgate-context-strategy",
                crate::context_window::fit::strategies_header_value(&self.applied).into_bytes(),
            ));
            out.push((
                "x-tollgate-context-dropped",
                self.dropped.header_value().into_bytes(),
            ));
        }
        if let Some(n) = self.lowered_max_tokens {
            out.push(("x-tollgate-max-tokens-lowered", n.to_string().into_bytes()));
        }
        out
    }
}

/// Whether `d` must count the request: fitting is on, the catalog knows
/// the model, and the cheap bound cannot prove it fits. Synchronous, so
/// the common case never builds the counting path's (larger) future.
pub(super) fn must_count(ctx: &RequestCtx<'_>, d: &Deployment) -> bool {
    let (Some(spec), true) = (d.spec.as_deref(), d.fit.enabled) else {
        return false;
    };
    let budget = budget_for(spec, ctx.max_tokens(), d.fit.lower_max_tokens);
    !surely_fits(&ctx.req.body, spec, &budget)
}

/// Fits the request for `d` (once [`must_count`] says so): `Ok(None, report)`
/// when it goes as it is.
pub(super) async fn for_attempt(
    ctx: &RequestCtx<'_>,
    d: &Deployment,
) -> Result<(Option<ChatRequest>, Option<FitReport>), Failure> {
    let Some(spec) = d.spec.as_deref() else {
        return Ok((None, None));
    };
    let counter = Counter::new(spec.tokenizer);
    let requested = ctx.max_tokens();
    let budget = budget_for(spec, requested, d.fit.lower_max_tokens);
    let native = ctx.is_native(d.provider.kind);
    let canonical = match ctx.canonical() {
        Ok(c) => c,
        // A same-dialect body the canonical model cannot hold (a block it
        // does not know) goes as it is: the provider judges its length.
        Err(_) if native => return Ok((None, None)),
        Err(e) => return Err(Failure::Invalid(e)),
    };
    let mut request = canonical.clone();
    let options = FitOptions {
        low_water_percent: (d.fit.target_ratio * 100.0).round().clamp(10.0, 99.0) as u8,
        ..FitOptions::default()
    };
    let mut strategies: &[Strategy] = &d.fit.strategies;
    let mut summary = None;
    loop {
        let outcome = fit(&mut request, &counter, &budget, strategies, &options);
        let rewritten = matches!(outcome, FitOutcome::Fitted { .. });
        let (prompt_tokens, mut applied, dropped, lowered_max_tokens) = match outcome {
            FitOutcome::Fits {
                prompt_tokens,
                lowered_max_tokens,
            } => (
                prompt_tokens,
                Vec::new(),
                DroppedSummary::default(),
                lowered_max_tokens,
            ),
            FitOutcome::Fitted {
                prompt_tokens,
                applied,
                dropped,
                lowered_max_tokens,
            } => (prompt_tokens, applied, dropped, lowered_max_tokens),
            FitOutcome::Reject {
                prompt_tokens,
                max_output,
                window,
            } => return Err(too_long(d, prompt_tokens, max_output, window)),
            FitOutcome::BiggerModel {
                prompt_tokens,
                next,
                ..
            } => {
                // A configured bigger model is in the chain: this target
                // steps aside and the engine moves on to another model.
                if d.fit.bigger_model.is_some() || next >= strategies.len() {
                    return Err(too_long(d, prompt_tokens, budget.output(), budget.window));
                }
                strategies = &strategies[next..];
                continue;
            }
            FitOutcome::NeedsSummary {
                range,
                max_summary_tokens,
                next,
                ..
            } => {
                let asked = match &d.fit.summarize_model {
                    Some(model) if summary.is_none() => {
                        let source: Vec<Message> =
                            summary_source(&request, &range).cloned().collect();
                        summarize(ctx, model, &source, max_summary_tokens)
                            .await
                            .map(|(text, label, usage)| {
                                (within(&counter, text, max_summary_tokens), label, usage)
                            })
                    }
                    _ => None,
                };
                match asked {
                    Some((text, label, usage))
                        if apply_summary(&mut request, range, &text).is_ok() =>
                    {
                        summary = Some((label, usage));
                    }
                    // No summary to be had: the strategies after it decide.
                    _ => strategies = &strategies[next.min(strategies.len())..],
                }
                continue;
            }
        };
        // The fit after a summary cannot tell one was made: it is reported here.
        if summary.is_some() {
            applied.insert(0, Strategy::Summarize);
        }
        let changed = rewritten || lowered_max_tokens.is_some() || summary.is_some();
        let report = FitReport {
            prompt_tokens,
            applied,
            dropped,
            lowered_max_tokens,
            summary,
        };
        return Ok((changed.then_some(request), Some(report)));
    }
}

/// The summary cut to the room planned for it, at a character boundary:
/// a model that ignores its `max_tokens` must not undo the fitting.
fn within(counter: &Counter, mut text: String, max_tokens: u32) -> String {
    while counter.text(&text) > max_tokens && !text.is_empty() {
        let mut at = text.len() * 3 / 4;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}

/// The target's room, with a prompt cap (GPT-5's 272K of 400K) taken as a
/// smaller window.
fn budget_for(spec: &ModelSpec, requested: Option<u32>, may_lower: bool) -> Budget {
    let output = requested.unwrap_or(spec.default_output_tokens);
    let window = match spec.max_input_tokens {
        Some(cap) => spec.context_window.min(cap.saturating_add(output)),
        None => spec.context_window,
    };
    Budget {
        window,
        max_output: requested,
        default_output: spec.default_output_tokens,
        may_lower_max_tokens: may_lower,
    }
}

/// The cheap bound: a body whose bytes, taken at the most any tokenizer
/// can make of them (twice, for tool schemas counted by OpenAI's rule),
/// leave room for the output surely fits. Images are priced by size, not
/// bytes: a body that may hold one is counted.
fn surely_fits(body: &[u8], spec: &ModelSpec, budget: &Budget) -> bool {
    const SLACK: u64 = 256;
    let bound = 2 * u64::from(upper_bound(body.len(), spec.tokenizer)) + SLACK;
    if bound + u64::from(budget.output()) > u64::from(budget.window) {
        return false;
    }
    static IMAGE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"image"));
    IMAGE.find(body).is_none()
}

fn too_long(d: &Deployment, prompt: u32, output: u32, window: u32) -> Failure {
    Failure::Invalid(
        ApiError::invalid_request(
            "context_length_exceeded",
            format!(
                "This request needs about {prompt} prompt tokens plus {output} output tokens, \
                 more than the {window}-token context window of `{}`.",
                d.upstream_model
            ),
        )
        .with_param("messages"),
    )
}

/// Asks `model` (through Tollgate's own providers, whole answer) to condense
/// `turns`; the summary text, the deployment that wrote it and its usage.
async fn summarize(
    ctx: &RequestCtx<'_>,
    model: &str,
    turns: &[Message],
    max_tokens: u32,
) -> Option<(String, String, Option<Usage>)> {
    let route = ctx.snapshot.model(model)?;
    let d: &Arc<Deployment> = route
        .deployments
        .iter()
        .find(|d| d.is_enabled() && d.provider.base.is_some())?;
    let request = summary_request(&d.upstream_model, turns, max_tokens);
    let adapter = crate::providers::adapter::adapter(d.provider.kind);
    let mut body = Vec::new();
    (adapter.write_body)(&request, d, &mut body).ok()?;
    let t = &d.timeouts;
    let budget = t.output_budget(false, max_tokens, ctx.timeout_cap);
    let answer = super::attempt::side_call(
        &d.provider,
        d.chat_target(false),
        &body,
        ctx.request_id,
        std::iter::empty(),
        t.head_budget(budget),
        t.total,
        4 << 20,
    )
    .await?;
    let parsed = (adapter.parse_answer)(&answer).ok()?;
    let text = parsed.choices.first()?.message.content.clone()?;
    (!text.trim().is_empty()).then(|| (text, String::from(&*d.label), parsed.usage))
}

/// The summarize call's request: an instruction, then the turns as a
/// transcript (tool calls and results included, as text).
fn summary_request(model: &str, turns: &[Message], max_tokens: u32) -> ChatRequest {
    let mut transcript = String::new();
    for m in turns {
        transcript.push_str(m.role.as_str());
        transcript.push_str(": ");
        transcript.push_str(&m.joined_text());
        for call in &m.tool_calls {
            transcript.push_str(&format!("\n[called {}({})]", call.name, call.arguments));
        }
        transcript.push_str("\n\n");
    }
    let mut request = ChatRequest {
        model: model.to_owned(),
        messages: vec![
            Message::text(
                Role::System,
                "Condense the conversation below into a brief summary that keeps every fact, \
                 decision, name, number and open question a continuation would need. \
                 Write only the summary.",
            ),
            Message::text(Role::User, transcript),
        ],
        ..ChatRequest::default()
    };
    request.sampling.max_output_tokens = Some(max_tokens.max(64));
    request
}
