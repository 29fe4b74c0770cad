//! Prefix stability: a conversation grows one exchange at a time and each
//! request is fitted afresh; consecutive fitted requests must mostly share
//! their prefix, so the provider's prompt cache keeps working.

use super::property::{sized, thinking};
use super::*;
use crate::resilience::FastRng;

/// Fits each request of a conversation that grows by one exchange at a
/// time (the client always sends the whole history) and returns, over the
/// first 20 pairs of consecutive requests that both needed fitting, how many
/// pairs have the earlier fitted messages as a prefix of the later ones.
fn shared_prefixes(
    seed: u64,
    strategies: &[Strategy],
    options: &FitOptions,
    tools: bool,
    window: u32,
) -> usize {
    let mut rng = FastRng::new(seed);
    let counter = ByteCounter;
    let budget = Budget {
        window,
        max_output: Some(1000),
        default_output: 1000,
        may_lower_max_tokens: false,
    };
    let mut history = vec![Message::text(Role::System, words(200, "system"))];
    let mut previous: Option<Vec<Message>> = None;
    let (mut pairs, mut shared) = (0, 0);
    for t in 0..200 {
        history.push(Message::text(
            Role::User,
            sized(&mut rng, 100, 400, &format!("u{t}")),
        ));
        let mut req = ChatRequest {
            messages: history.clone(),
            ..ChatRequest::default()
        };
        let outcome = fit(&mut req, &counter, &budget, strategies, options);
        assert!(
            matches!(outcome, FitOutcome::Fits { .. } | FitOutcome::Fitted { .. }),
            "{outcome:?}"
        );
        if matches!(outcome, FitOutcome::Fitted { .. }) {
            if let Some(prev) = previous.take() {
                pairs += 1;
                shared += usize::from(req.messages.starts_with(&prev));
                if pairs == 20 {
                    return shared;
                }
            }
            previous = Some(req.messages);
        }
        if tools {
            let mut call = Message::text(Role::Assistant, "");
            let id = format!("toolu_{t}");
            call.tool_calls.push(ToolCall {
                id: id.clone(),
                name: "read".into(),
                arguments: "{}".into(),
            });
            call.reasoning.push(thinking(&mut rng));
            let mut result = Message::text(Role::Tool, sized(&mut rng, 300, 900, &id));
            result.tool_call_id = Some(id);
            history.push(call);
            history.push(result);
        }
        history.push(Message::text(
            Role::Assistant,
            sized(&mut rng, 50, 300, &format!("a{t}")),
        ));
    }
    panic!("the conversation never needed 20 fitted requests");
}

#[test]
fn a_growing_conversation_keeps_its_fitted_prefix() {
    let defaults = FitOptions::default();
    let cases: &[(&[Strategy], bool, u32)] = &[
        (&[Strategy::Truncate], false, 8000),
        (&[Strategy::MiddleOut], false, 8000),
        (&[Strategy::Truncate], true, 24000),
        (&[Strategy::MiddleOut], true, 24000),
        (
            &[Strategy::CompressToolResults, Strategy::Truncate],
            true,
            24000,
        ),
    ];
    for &(strategies, tools, window) in cases {
        let shared: usize = (1..=5)
            .map(|seed| shared_prefixes(seed, strategies, &defaults, tools, window))
            .sum();
        // The measure: at least 80 of the 100 pairs share the prefix.
        assert!(
            shared >= 80,
            "{strategies:?} tools={tools}: {shared} of 100 pairs share their prefix"
        );
    }
    // Dropping just enough each time (1 % blocks) moves the cut on almost
    // every request: the measure tells the two apart.
    let just_enough = FitOptions {
        low_water_percent: 99,
        ..defaults
    };
    let shared: usize = (1..=5)
        .map(|seed| shared_prefixes(seed, &[Strategy::Truncate], &just_enough, false, 8000))
        .sum();
    assert!(shared <= 30, "just enough: {shared} of 100");
}
