//! The cost of fitting a ~200K-token conversation (250 turns, a third of
//! them with a tool round and a large result, thinking blocks on the calls)
//! into a 128K window, per strategy. A byte counter (4 bytes a token) stands
//! in for the real tokenizers, so this measures the fitting itself plus one
//! counter call per message. Each row consumes a fresh clone and drops it;
//! `drop only` is that drop's share of every row.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tollgate::canonical::{
    ChatRequest, ContentPart, Message, ReasoningBlock, Role, ToolCall, ToolDefinition,
};
use tollgate::context_window::CountTokens;
use tollgate::context_window::fit::{Budget, FitOptions, FitOutcome, Strategy, fit};

struct ByteCounter;

impl CountTokens for ByteCounter {
    fn message(&self, m: &Message) -> u32 {
        let mut bytes = m.tool_call_id.as_ref().map_or(0, String::len);
        for part in &m.content {
            bytes += match part {
                ContentPart::Text(t) => t.len(),
                ContentPart::Image(_) => 340,
            };
        }
        for c in &m.tool_calls {
            bytes += c.id.len() + c.name.len() + c.arguments.len();
        }
        for r in &m.reasoning {
            if let ReasoningBlock::Thought { text, signature } = r {
                bytes += text.len() + signature.as_ref().map_or(0, String::len);
            }
        }
        4 + (bytes / 4) as u32
    }

    fn tools(&self, tools: &[ToolDefinition]) -> u32 {
        tools.iter().map(|t| 8 + t.name.len() as u32 / 4).sum()
    }

    fn request_overhead(&self) -> u32 {
        3
    }
}

fn text(tokens: usize, seed: usize) -> String {
    let mut s = format!("{seed} ");
    while s.len() < tokens * 4 {
        s.push_str("lorem ipsum ");
    }
    s
}

fn conversation() -> ChatRequest {
    let mut messages = vec![Message::text(Role::System, text(500, 0))];
    for t in 0..250 {
        messages.push(Message::text(Role::User, text(150 + t % 7 * 20, t)));
        if t % 3 == 0 {
            let id = format!("toolu_{t}");
            let mut call = Message::text(Role::Assistant, "");
            call.tool_calls.push(ToolCall {
                id: id.clone(),
                name: "read".into(),
                arguments: "{\"path\":\"src/lib.rs\"}".into(),
            });
            call.reasoning.push(ReasoningBlock::Thought {
                text: text(100, t),
                signature: Some("EqQBCkgIARABGAIiQ".into()),
            });
            let mut result = Message::text(Role::Tool, text(1200, t));
            result.tool_call_id = Some(id);
            messages.push(call);
            messages.push(result);
        }
        messages.push(Message::text(Role::Assistant, text(150, t)));
    }
    messages.push(Message::text(Role::User, text(200, 999)));
    ChatRequest {
        messages,
        ..ChatRequest::default()
    }
}

fn bench(c: &mut Criterion) {
    let req = conversation();
    let counter = ByteCounter;
    let prompt: u32 = req.messages.iter().map(|m| counter.message(m)).sum();
    let budget = Budget {
        window: 128_000,
        max_output: Some(4096),
        default_output: 4096,
        may_lower_max_tokens: false,
    };
    let options = FitOptions::default();
    let mut group = c.benchmark_group(format!(
        "fit {prompt} tokens, {} messages into 128K",
        req.messages.len()
    ));
    group.bench_function("drop only", |b| {
        b.iter_batched(|| req.clone(), drop, BatchSize::LargeInput)
    });
    let roomy = Budget {
        window: 1_000_000,
        ..budget
    };
    group.bench_function("fits (count only)", |b| {
        b.iter_batched(
            || req.clone(),
            |mut r| fit(&mut r, &counter, &roomy, &[Strategy::Reject], &options),
            BatchSize::LargeInput,
        )
    });
    for strategy in [
        Strategy::Reject,
        Strategy::Truncate,
        Strategy::MiddleOut,
        Strategy::CompressToolResults,
        Strategy::Summarize,
    ] {
        let mut probe = req.clone();
        let outcome = fit(&mut probe, &counter, &budget, &[strategy], &options);
        let expected = match strategy {
            Strategy::Reject => matches!(outcome, FitOutcome::Reject { .. }),
            Strategy::Summarize => matches!(outcome, FitOutcome::NeedsSummary { .. }),
            _ => matches!(outcome, FitOutcome::Fitted { .. }),
        };
        assert!(
            expected,
            "{strategy:?} on the bench conversation: {outcome:?}"
        );

        group.bench_function(strategy.as_str(), |b| {
            b.iter_batched(
                || req.clone(),
                |mut r| fit(&mut r, &counter, &budget, &[strategy], &options),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
