//! Property tests over seeded random conversations (tool rounds, parallel
//! calls, results out of order, reused call ids, thinking blocks with
//! signatures, Gemini-style signed ids, images, mid-conversation prompts):
//! every strategy's output fits or it says it cannot, and the invariants of
//! the fitting module hold.

use std::collections::HashMap;

use super::*;
use crate::canonical::{
    ContentPart, Image, ImageSource, Message, ReasoningBlock, ReasoningConfig, Role, ToolCall,
};
use crate::context_window::CountTokens;
use crate::resilience::FastRng;

fn below(rng: &mut FastRng, n: u64) -> u64 {
    rng.next_u64() % n.max(1)
}

fn chance(rng: &mut FastRng, percent: u64) -> bool {
    below(rng, 100) < percent
}

pub(super) fn sized(rng: &mut FastRng, lo: u32, hi: u32, tag: &str) -> String {
    words(lo + below(rng, u64::from(hi - lo)) as u32, tag)
}

fn image(rng: &mut FastRng) -> ContentPart {
    let source = if chance(rng, 50) {
        ImageSource::Url(format!("https://example.com/{}.png", below(rng, 9)))
    } else {
        ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBORw0KGgo=".into(),
        }
    };
    ContentPart::Image(Box::new(Image {
        source,
        detail: None,
    }))
}

fn user_turn(rng: &mut FastRng, t: usize) -> Message {
    let mut m = Message::text(Role::User, sized(rng, 10, 400, &format!("u{t}")));
    if chance(rng, 15) {
        m.content.push(image(rng));
    }
    m
}

pub(super) fn thinking(rng: &mut FastRng) -> ReasoningBlock {
    if chance(rng, 85) {
        ReasoningBlock::Thought {
            text: sized(rng, 5, 200, "hmm"),
            signature: Some(format!("EqQBCkgIARABGAIiQ{}", below(rng, 1 << 30))),
        }
    } else {
        ReasoningBlock::Redacted {
            data: format!("redacted{}", below(rng, 1000)),
        }
    }
}

/// One assistant round of 1–3 parallel calls and their results, the
/// results sometimes out of order or large; the ids sometimes reused
/// across turns, sometimes Gemini-style with a signature in them.
fn tool_round(rng: &mut FastRng, out: &mut Vec<Message>, t: usize, r: usize) {
    let mut call = Message::text(
        Role::Assistant,
        if chance(rng, 50) { "let me look" } else { "" },
    );
    if chance(rng, 50) {
        call.reasoning.push(thinking(rng));
    }
    for k in 0..1 + below(rng, 3) as usize {
        let id = match below(rng, 3) {
            0 => format!("call_{k}"),
            1 => format!("call_{:016x}s{}", below(rng, u64::MAX), "c2lnbmF0dXJl"),
            _ => format!("toolu_{t}_{r}_{k}"),
        };
        let name = ["read", "grep", "run"][k % 3];
        call.tool_calls.push(ToolCall {
            id,
            name: name.into(),
            arguments: "{\"p\":1}".into(),
        });
    }
    let mut results: Vec<Message> = call
        .tool_calls
        .iter()
        .map(|c| {
            let size = if chance(rng, 30) {
                (300, 3000)
            } else {
                (5, 200)
            };
            let mut m = Message::text(Role::Tool, sized(rng, size.0, size.1, &c.id));
            m.tool_call_id = Some(c.id.clone());
            m.tool_error = chance(rng, 10);
            if chance(rng, 10) {
                m.content.push(image(rng));
            }
            m
        })
        .collect();
    if results.len() > 1 && chance(rng, 30) {
        results.reverse();
    }
    out.push(call);
    out.extend(results);
}

/// A conversation of 1–14 user turns, ending with a user message or an
/// agent loop in progress; every message named `m<i>` to trace it.
fn conversation(rng: &mut FastRng) -> ChatRequest {
    let mut msgs = Vec::new();
    if chance(rng, 80) {
        msgs.push(Message::text(Role::System, sized(rng, 5, 300, "sys")));
    }
    if chance(rng, 20) {
        msgs.push(Message::text(Role::Developer, "dev rules"));
    }
    if chance(rng, 10) {
        msgs.push(Message::text(Role::Assistant, "Hi! How can I help?"));
    }
    let turns = 1 + below(rng, 14) as usize;
    for t in 0..turns {
        if chance(rng, 8) {
            msgs.push(Message::text(Role::System, "mid-conversation note"));
        }
        msgs.push(user_turn(rng, t));
        let last = t + 1 == turns;
        for r in 0..below(rng, 4) as usize {
            tool_round(rng, &mut msgs, t, r);
        }
        if !last || chance(rng, 30) {
            let mut answer = Message::text(Role::Assistant, sized(rng, 5, 300, &format!("a{t}")));
            if chance(rng, 40) {
                answer.reasoning.push(thinking(rng));
            }
            msgs.push(answer);
            if last {
                msgs.push(user_turn(rng, t + 1));
            }
        }
    }
    for (i, m) in msgs.iter_mut().enumerate() {
        m.name = Some(format!("m{i}"));
    }
    ChatRequest {
        messages: msgs,
        ..ChatRequest::default()
    }
}

fn prompt(counter: &dyn CountTokens, req: &ChatRequest) -> u64 {
    u64::from(counter.request_overhead())
        + u64::from(counter.tools(&req.tools))
        + req
            .messages
            .iter()
            .map(|m| u64::from(counter.message(m)))
            .sum::<u64>()
}

/// The index of each message of `fitted` in `original`, by its name tag.
fn origins(original: &ChatRequest, fitted: &ChatRequest) -> Vec<usize> {
    let by_name: HashMap<&str, usize> = original
        .messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.name.as_deref().map(|n| (n, i)))
        .collect();
    fitted
        .messages
        .iter()
        .map(|m| {
            *by_name
                .get(m.name.as_deref().unwrap_or(""))
                .expect("a message of the original")
        })
        .collect()
}

/// For each tool result, the assistant message whose call it answers.
fn answered(messages: &[Message]) -> HashMap<usize, usize> {
    let mut caller = HashMap::new();
    let mut out = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        for c in &m.tool_calls {
            caller.insert(c.id.clone(), i);
        }
        if let Some(&a) = m.tool_call_id.as_ref().and_then(|id| caller.get(id)) {
            out.insert(i, a);
        }
    }
    out
}

fn pinned(m: &Message) -> bool {
    matches!(m.role, Role::System | Role::Developer)
}

/// The invariants of a fitted request against its original.
fn check_kept(original: &ChatRequest, fitted: &ChatRequest, ctx: &str) {
    let from = origins(original, fitted);
    assert!(from.windows(2).all(|w| w[0] < w[1]), "order kept: {ctx}");
    let kept: std::collections::HashSet<usize> = from.iter().copied().collect();
    let msgs = &original.messages;
    let latest_user = msgs.iter().rposition(|m| m.role == Role::User);
    let latest_round = msgs
        .iter()
        .rposition(|m| m.role == Role::Assistant && !m.tool_calls.is_empty())
        .map_or(0, |i| i + 1);
    for (i, m) in msgs.iter().enumerate() {
        if pinned(m) || latest_user.is_some_and(|l| i >= l) {
            assert!(kept.contains(&i), "message {i} must stay: {ctx}");
        }
    }
    for (f, &i) in from.iter().enumerate() {
        let (now, was) = (&fitted.messages[f], &msgs[i]);
        if now == was {
            continue;
        }
        // The only rewrite: an old tool result stubbed, all else as sent.
        assert!(
            i < latest_round && was.role == Role::Tool,
            "message {i} rewritten: {ctx}"
        );
        assert_eq!(now.joined_text(), stub_text(was), "{ctx}");
        assert_eq!(now.content.len(), 1, "{ctx}");
        assert_eq!(
            (now.role, &now.tool_call_id, now.tool_error, &now.name),
            (was.role, &was.tool_call_id, was.tool_error, &was.name),
            "{ctx}"
        );
    }
    for (result, call) in answered(msgs) {
        assert_eq!(
            kept.contains(&result),
            kept.contains(&call),
            "pair {call}->{result}: {ctx}"
        );
    }
    // Nothing the fitter drops leaves a non-user turn first: the first
    // unpinned message is a user turn or the one the client put first.
    let first_unpinned = |ms: &[Message]| ms.iter().position(|m| !pinned(m));
    if let Some(f) = first_unpinned(&fitted.messages) {
        let first = fitted.messages[f].role == Role::User || Some(from[f]) == first_unpinned(msgs);
        assert!(first, "a {:?} turn first: {ctx}", fitted.messages[f].role);
    }
}

/// Checks one outcome; returns the request to fit again after a summary.
fn check_outcome(
    original: &ChatRequest,
    fitted: &ChatRequest,
    outcome: &FitOutcome,
    budget: &Budget,
    options: &FitOptions,
    ctx: &str,
) {
    let counter = ByteCounter;
    let window = u64::from(budget.window);
    let now = prompt(&counter, fitted);
    let lowered = match outcome {
        FitOutcome::Fits {
            prompt_tokens,
            lowered_max_tokens,
        } => {
            assert_eq!(fitted.messages, original.messages, "{ctx}");
            assert_eq!(u64::from(*prompt_tokens), now, "{ctx}");
            *lowered_max_tokens
        }
        FitOutcome::Fitted {
            prompt_tokens,
            dropped,
            lowered_max_tokens,
            applied,
        } => {
            assert!(!applied.is_empty(), "{ctx}");
            assert_eq!(u64::from(*prompt_tokens), now, "{ctx}");
            assert_eq!(
                u64::from(dropped.tokens),
                prompt(&counter, original) - now,
                "{ctx}"
            );
            assert_eq!(
                dropped.messages as usize,
                original.messages.len() - fitted.messages.len()
            );
            let stubs = fitted
                .messages
                .iter()
                .filter(|m| m.joined_text().starts_with("[tool result elided"));
            assert_eq!(
                dropped.tool_results_compressed as usize,
                stubs.count(),
                "{ctx}"
            );
            check_kept(original, fitted, ctx);
            *lowered_max_tokens
        }
        _ => {
            assert_eq!(fitted.messages, original.messages, "untouched: {ctx}");
            assert_eq!(fitted.sampling, original.sampling, "untouched: {ctx}");
            return;
        }
    };
    let output = match lowered {
        Some(n) => {
            assert_eq!(fitted.sampling.max_output_tokens, Some(n), "{ctx}");
            let floor = budget.output().min(options.min_output_tokens);
            assert!(n >= floor && n < budget.output(), "lowered to {n}: {ctx}");
            let thinking = fitted.reasoning.and_then(|r| r.budget_tokens).unwrap_or(0);
            assert!(
                n > thinking,
                "lowered to {n} under the thinking budget: {ctx}"
            );
            n
        }
        None => budget.output(),
    };
    assert!(
        now + u64::from(output) <= window,
        "{now} + {output} > {window}: {ctx}"
    );
}

/// Dropping every turn but the latest would have fitted: truncate must not
/// give up.
fn truncate_could_fit(req: &ChatRequest, budget: &Budget, options: &FitOptions) -> bool {
    let counter = ByteCounter;
    let latest = req
        .messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(0);
    let least = u64::from(counter.request_overhead())
        + req
            .messages
            .iter()
            .enumerate()
            .filter(|(i, m)| pinned(m) || *i >= latest)
            .map(|(_, m)| u64::from(counter.message(m)))
            .sum::<u64>();
    let thinking = req
        .reasoning
        .and_then(|r| r.budget_tokens)
        .map_or(0, |b| b + 1);
    let floor = if budget.may_lower_max_tokens {
        budget
            .output()
            .min(options.min_output_tokens)
            .max(thinking)
            .min(budget.output())
    } else {
        budget.output()
    };
    least + u64::from(floor) <= u64::from(budget.window)
}

const PLANS: &[&[Strategy]] = &[
    &[Strategy::Truncate],
    &[Strategy::MiddleOut],
    &[Strategy::CompressToolResults],
    &[Strategy::Summarize],
    &[Strategy::CompressToolResults, Strategy::Truncate],
    &[
        Strategy::MiddleOut,
        Strategy::CompressToolResults,
        Strategy::Truncate,
    ],
    &[
        Strategy::CompressToolResults,
        Strategy::Summarize,
        Strategy::Reject,
    ],
    &[Strategy::BiggerModel, Strategy::Truncate],
];

#[test]
fn every_strategy_fits_or_says_it_cannot_and_keeps_the_invariants() {
    let mut rng = FastRng::new(0x0f17);
    let counter = ByteCounter;
    let mut fitted_count = 0;
    for case in 0..1500 {
        let mut original = conversation(&mut rng);
        if chance(&mut rng, 10) {
            original.reasoning = Some(ReasoningConfig {
                effort: None,
                budget_tokens: Some(1200),
            });
        }
        let full = prompt(&counter, &original) as u32;
        let budget = Budget {
            window: full * (20 + below(&mut rng, 100) as u32) / 100 + 500,
            max_output: chance(&mut rng, 60).then(|| 200 + below(&mut rng, 3000) as u32),
            default_output: 800,
            may_lower_max_tokens: chance(&mut rng, 50),
        };
        let options = FitOptions {
            low_water_percent: [50, 70, 90][below(&mut rng, 3) as usize],
            ..FitOptions::default()
        };
        for plan in PLANS {
            let ctx = format!("case {case}, {plan:?}, {budget:?}");
            let mut req = original.clone();
            let outcome = fit(&mut req, &counter, &budget, plan, &options);
            check_outcome(&original, &req, &outcome, &budget, &options, &ctx);
            if *plan == [Strategy::Truncate] && truncate_could_fit(&original, &budget, &options) {
                assert!(
                    !matches!(outcome, FitOutcome::Reject { .. }),
                    "gave up: {ctx}"
                );
            }
            if matches!(outcome, FitOutcome::Fitted { .. }) {
                fitted_count += 1;
            }
            if let FitOutcome::NeedsSummary {
                range,
                max_summary_tokens,
                ..
            } = outcome
            {
                assert!(max_summary_tokens >= options.summary_tokens, "{ctx}");
                assert!(summary_source(&req, &range).count() > 0, "{ctx}");
                apply_summary(&mut req, range, "earlier: the user asked, tools ran").expect(&ctx);
                for m in req.messages.iter_mut().filter(|m| m.name.is_none()) {
                    m.name = Some("summary".into());
                }
                let summarized = req.clone();
                let again = fit(&mut req, &counter, &budget, plan, &options);
                assert!(
                    matches!(again, FitOutcome::Fits { .. } | FitOutcome::Fitted { .. }),
                    "{again:?}: {ctx}"
                );
                check_outcome(&summarized, &req, &again, &budget, &options, &ctx);
            }
        }
    }
    // The generator does overflow windows: most plans had work to do.
    assert!(fitted_count > 3000, "{fitted_count}");
}
