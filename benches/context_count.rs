//! Token counting costs. The cheap bound on a 1 KB request (what every
//! request pays; target < 1 µs) beside the exact count of the same request
//! (what the bound lets it skip), then exact counts of a ~100K-token
//! conversation in a few families.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::api::openai::parse_openai_request;
use tollgate::canonical::ChatRequest;
use tollgate::canonical::json::write_str;
use tollgate::context_window::TokenizerFamily;
use tollgate::context_window::count::{Counter, count_request, request_upper_bound};

const TEXTS: &str = include_str!("../tests/fixtures/token_counts/texts.json");

fn request_of(messages: &[(&str, &str)]) -> ChatRequest {
    let mut body = b"{\"model\":\"m\",\"messages\":[".to_vec();
    for (i, (role, text)) in messages.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!("{{\"role\":\"{role}\",\"content\":").as_bytes());
        write_str(&mut body, text);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    parse_openai_request(&body).expect("bench request parses")
}

/// A system prompt, a question and an answer: about 1 KB of JSON.
fn one_kb() -> ChatRequest {
    request_of(&[
        (
            "system",
            "You are a terse assistant for a logistics company. Answer in English.",
        ),
        (
            "user",
            "The gateway sits between the client and a dozen model providers. When a conversation grows past the window of the model it is routed to, the gateway must notice before the provider does. How should it count tokens, and what should it drop first?",
        ),
        (
            "assistant",
            "Count with the target model's tokenizer, including per-message overhead and tool schemas. Drop the oldest turns first, in blocks, keeping the system prompt, the latest user turn, and every tool call together with its result.",
        ),
        (
            "user",
            "And for images or models whose tokenizer is not public? Keep the answer short, please; a list of three points is enough for now, and name the provider rules you rely on so I can check them later against the documentation.",
        ),
    ])
}

/// The fixture texts, round and round, as alternating turns, until o200k
/// counts about 100K tokens.
fn long_conversation() -> ChatRequest {
    let mut bytes = TEXTS.as_bytes().to_vec();
    let texts = simd_json::to_owned_value(&mut bytes).expect("texts.json");
    let texts: Vec<String> = match texts {
        simd_json::OwnedValue::Object(map) => map
            .values()
            .filter_map(|v| match v {
                simd_json::OwnedValue::String(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut turns = Vec::new();
    let mut total = 0;
    let counter = Counter::new(TokenizerFamily::O200k);
    while total < 100_000 {
        let text = &texts[turns.len() % texts.len()];
        total += counter.text(text) + 4;
        turns.push(text.clone());
    }
    let messages: Vec<(&str, &str)> = turns
        .iter()
        .enumerate()
        .map(|(i, t)| (if i % 2 == 0 { "user" } else { "assistant" }, t.as_str()))
        .collect();
    request_of(&messages)
}

fn bench(c: &mut Criterion) {
    let small = one_kb();
    let mut g = c.benchmark_group("count_1kb");
    for family in [TokenizerFamily::O200k, TokenizerFamily::Claude] {
        g.bench_function(format!("bound {family:?}"), |b| {
            b.iter(|| request_upper_bound(black_box(family), black_box(&small)))
        });
        let counter = Counter::new(family);
        g.bench_function(format!("exact {family:?}"), |b| {
            b.iter(|| count_request(black_box(&counter), black_box(&small)).total)
        });
    }
    g.finish();

    let long = long_conversation();
    let mut g = c.benchmark_group("count_100k_tokens");
    g.sample_size(10);
    for family in [
        TokenizerFamily::O200k,
        TokenizerFamily::DeepSeek,
        TokenizerFamily::Claude,
    ] {
        let counter = Counter::new(family);
        g.bench_function(format!("exact {family:?}"), |b| {
            b.iter(|| count_request(black_box(&counter), black_box(&long)).total)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
