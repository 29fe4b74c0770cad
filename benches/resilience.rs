//! Resilience primitives on the request path: breaker admission and outcome,
//! candidate ordering over five deployments, and complexity scoring of a
//! ~2 KB prompt. The keyword pair compares the in-place ASCII-case-insensitive
//! scan with lower-casing a copy of the prompt first, the obvious way.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::resilience::{
    Admission, Breaker, BreakerParams, ComplexitySignals, ComplexityWeights, FastRng, LatencyStats,
    complexity_score, count_keywords, p2c_order, weighted_order,
};

const PARAMS: BreakerParams = BreakerParams {
    window_ms: 10_000,
    error_rate: 0.5,
    min_requests: 20,
    open_ms: 5_000,
    half_open_probes: 3,
};

const PARAGRAPH: &str = "You are reviewing a pull request for a thread-per-core HTTP gateway. \
Explain step by step why the connection pool might leak sockets when an upstream resets the \
stream mid-response, then PROVE that the fix holds under cancellation. Consider the edge cases, \
analyze the retry path, and compare with the previous design before you write any code. ";

fn prompt() -> String {
    let mut text = String::new();
    while text.len() < 2_048 {
        text.push_str(PARAGRAPH);
    }
    text.truncate(2_048);
    text
}

fn keywords() -> Vec<String> {
    [
        "step by step",
        "prove",
        "analyze",
        "edge case",
        "compare",
        "derive",
        "optimize",
        "trade-off",
    ]
    .map(String::from)
    .to_vec()
}

fn bench_breaker(c: &mut Criterion) {
    let mut breaker = Breaker::new(PARAMS);
    let mut rng = FastRng::new(1);
    let mut now = 0u64;
    c.bench_function("breaker try_acquire+record", |b| {
        b.iter(|| {
            now += 1;
            // ~1 % failures: stays closed, as on a healthy upstream.
            let success = !rng.next_u64().is_multiple_of(100);
            let admission = breaker.try_acquire(black_box(now));
            if admission != Admission::Rejected {
                breaker.record(now, success, admission == Admission::Probe);
            }
            admission
        })
    });
    c.bench_function("breaker is_available", |b| {
        b.iter(|| breaker.is_available(black_box(now)))
    });
}

fn bench_ordering(c: &mut Criterion) {
    let weights = [10u32, 30, 5, 40, 15];
    let mut stats: Vec<LatencyStats> = (0..5).map(|_| LatencyStats::new()).collect();
    for (i, s) in stats.iter_mut().enumerate().skip(1) {
        s.observe_ttfb(0, 100 + 50 * i as u64);
    }
    let latencies: Vec<Option<f64>> = stats.iter().map(LatencyStats::ewma_ttfb_ms).collect();
    let mut rng = FastRng::new(2);
    let mut next = move || rng.next_u64();
    c.bench_function("weighted_order 5", |b| {
        b.iter(|| weighted_order(black_box(&weights), &mut next))
    });
    c.bench_function("p2c_order 5", |b| {
        b.iter(|| p2c_order(black_box(&latencies), &mut next))
    });
}

fn bench_complexity(c: &mut Criterion) {
    let text = prompt();
    let keywords = keywords();
    let weights = ComplexityWeights {
        long_prompt_chars: 8_000,
        prompt_weight: 0.4,
        tools_weight: 0.2,
        reasoning_weight: 0.3,
        keyword_weight: 0.2,
    };
    c.bench_function("complexity 2KB prompt (count_keywords + score)", |b| {
        b.iter(|| {
            let text = black_box(text.as_str());
            let signals = ComplexitySignals {
                prompt_chars: text.len() as u64,
                has_tools: true,
                reasoning: false,
                keyword_hits: count_keywords(text, &keywords),
            };
            complexity_score(&signals, &weights)
        })
    });
    c.bench_function("count_keywords naive (lowercase copy + matches)", |b| {
        b.iter(|| {
            let lower = black_box(text.as_str()).to_ascii_lowercase();
            keywords
                .iter()
                .map(|k| lower.matches(k.as_str()).count() as u32)
                .sum::<u32>()
        })
    });
    assert_eq!(
        count_keywords(&text, &keywords),
        keywords
            .iter()
            .map(|k| text.to_ascii_lowercase().matches(k.as_str()).count() as u32)
            .sum::<u32>(),
        "the naive baseline counts the same hits"
    );
}

criterion_group!(benches, bench_breaker, bench_ordering, bench_complexity);
criterion_main!(benches);
