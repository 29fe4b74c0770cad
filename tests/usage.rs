//! Usage through the real gateway: the token counters at /metrics grow by
//! each answer's usage on every delivery path (passthrough, translated,
//! same-dialect; whole and streamed), a passthrough stream for a client
//! that did not ask for usage is byte for byte what it would have been,
//! prompt tokens follow one rule whatever the dialect, and /metrics merges
//! every worker.

mod common;
mod pipeline_common;

use common::*;
use pipeline_common::*;

/// Chunk ids differ per answer; everything else must not.
fn without_ids(body: &[u8]) -> Vec<String> {
    sse_data(body)
        .into_iter()
        .map(|d| match d.find("chatcmpl-mock") {
            Some(at) => format!("{}{}", &d[..at], &d[at + 25..]),
            None => d,
        })
        .collect()
}

fn usage_is_recorded_for_every_delivery_path(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, 1, ""), driver);
    let a = gw.addr;
    let plain = chat_body("gpt", "count these words", true);
    for model in ["gpt", "claude", "gem"] {
        // Whole answers, OpenAI dialect.
        let body = chat_body(model, "count these words", false);
        grows_by(
            a,
            model,
            || post_chat(a, &[], &body),
            |r| openai_usage(&r.json()),
        );
        // Streams for a client that asked for usage: exactly one usage chunk.
        let body = with_usage(model);
        let r = grows_by(
            a,
            model,
            || post_chat(a, &[], &body),
            |r| {
                let chunks = usage_chunks(&r.body);
                assert_eq!(chunks.len(), 1, "{model}: {}", r.text());
                chunks[0]
            },
        );
        let asked = usage_chunks(&r.body)[0];
        // A client that did not ask sees none, and the counters still grow.
        let body = chat_body(model, "count these words", true);
        let r = grows_by(a, model, || post_chat(a, &[], &body), |_| asked);
        assert!(usage_chunks(&r.body).is_empty(), "{model}: {}", r.text());
        // The Anthropic dialect, whole and streamed (same-dialect for claude).
        for stream in [false, true] {
            let body = messages_body(model, "count these words", stream);
            grows_by(a, model, || post_messages(a, &[], &body), anthropic_usage);
        }
    }
    // The passthrough stream without usage is byte for byte what the
    // upstream sends a client that did not ask.
    let direct = post(mock.addr, "/v1/chat/completions", &[], &plain);
    let gw_body = post_chat(a, &[], &plain).body;
    let (mut d, g) = (without_ids(&direct.body), without_ids(&gw_body));
    for ev in d.iter_mut() {
        *ev = ev.replace("\"model\":\"gpt\"", "\"model\":\"mock-gpt\"");
    }
    assert_eq!(d, g);
}

/// Anthropic's `input_tokens` leaves the cache out, OpenAI's `prompt_tokens`
/// counts it in: the record follows OpenAI's rule whatever the dialect.
fn prompt_tokens_count_the_cache_on_every_path(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, 1, ""), driver);
    let a = gw.addr;
    let fx = [("x-mock-fixture", "parallel_tool_use_stream")];
    // input 200 + cache write 10 + cache read 50; output 90.
    let body = messages_body("claude", "weather", true);
    grows_by(
        a,
        "claude",
        || post_messages(a, &fx, &body),
        |r| {
            assert_eq!(anthropic_usage(r), (260, 90), "{}", r.text());
            (260, 90)
        },
    );
    let body = with_usage("claude");
    grows_by(
        a,
        "claude",
        || post_chat(a, &fx, &body),
        |r| {
            let chunks = usage_chunks(&r.body);
            assert_eq!(chunks, [(260, 90)], "{}", r.text());
            chunks[0]
        },
    );
}

fn metrics_merge_all_workers(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, 2, ""), driver);
    const N: u64 = 12;
    for i in 0..N {
        let r = post_chat(gw.addr, &[], &chat_body("gpt", &format!("n{i}"), false));
        assert_eq!(r.status, 200);
    }
    eventually("all requests counted", || counters(gw.addr, "gpt").0 == N);
    for _ in 0..8 {
        assert_eq!(
            counters(gw.addr, "gpt").0,
            N,
            "every scrape sees every worker"
        );
    }
}

on_both_drivers!(
    usage_is_recorded_for_every_delivery_path,
    prompt_tokens_count_the_cache_on_every_path,
    metrics_merge_all_workers,
);
