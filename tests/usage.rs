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
use simd_json::OwnedValue;
use simd_json::prelude::*;

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

/// The delivery record as the access log writes it: one JSON line per
/// request, the line with this request id.
fn record_of(gw: &Gateway, r: &Response) -> OwnedValue {
    let id = r.header("x-request-id").expect("a request id").to_owned();
    let needle = format!("{{\"request_id\":\"{id}\"");
    let line = gw.wait_log(0, &needle);
    json(&line.as_bytes()[line.find('{').unwrap()..])
}

fn usage_of(v: &OwnedValue) -> (u64, u64) {
    (n(v.get("prompt_tokens")), n(v.get("completion_tokens")))
}

/// Every attempt is in the record, each with its own outcome; the served
/// one carries the answer's usage, a failed one none. A refused request
/// has a record too, and a model the config does not serve is not a
/// metrics label (clients cannot grow the series without bound).
fn the_record_keeps_every_attempt_and_its_usage(driver: &str) {
    let mock = start_mock(driver);
    let cfg = config(mock.addr, 1, "").replace("workers = 1\n", "workers = 1\naccess_log = true\n");
    let gw = start_gateway(&cfg, driver);
    let a = gw.addr;

    // `gpt-fb`'s deployment answers 500; its fallback `gpt` serves.
    let r = post_chat(a, &[], &chat_body("gpt-fb", "count these words", false));
    assert_eq!(r.status, 200, "{}", r.text());
    let shown = openai_usage(&r.json());
    assert!(shown.0 > 0 && shown.1 > 0, "{}", r.text());
    let rec = record_of(&gw, &r);
    let attempts = rec
        .get("attempts")
        .and_then(|v| v.as_array())
        .expect("attempts");
    let field =
        |v: &OwnedValue, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let seen: Vec<(String, String)> = attempts
        .iter()
        .map(|t| (field(t, "deployment"), field(t, "outcome")))
        .collect();
    assert_eq!(
        seen,
        [
            ("down/gpt-fb".to_owned(), "500".to_owned()),
            ("oa/mock-gpt".to_owned(), "ok".to_owned())
        ],
        "{rec:?}"
    );
    assert!(
        attempts[0].get("usage").is_some_and(|u| u.is_null()),
        "{rec:?}"
    );
    assert_eq!(
        usage_of(attempts[1].get("usage").unwrap()),
        shown,
        "{rec:?}"
    );
    assert_eq!(usage_of(rec.get("usage").unwrap()), shown, "{rec:?}");
    assert_eq!(field(&rec, "ending"), "answered");
    assert_eq!(field(&rec, "model"), "gpt-fb");
    assert_eq!(n(rec.get("status")), 200);

    // A passthrough stream whose client did not ask for usage: the record
    // still has it, exact (the gateway asked the upstream).
    let r = post_chat(a, &[], &with_usage("gpt"));
    let asked = usage_chunks(&r.body)[0];
    let r = post_chat(a, &[], &chat_body("gpt", "count these words", true));
    assert!(usage_chunks(&r.body).is_empty());
    let rec = record_of(&gw, &r);
    assert_eq!(usage_of(rec.get("usage").unwrap()), asked, "{rec:?}");
    assert_eq!(rec.get("stream").and_then(|v| v.as_bool()), Some(true));

    // Refused: a record, with no attempt, and the metrics say `unknown`.
    let r = post_chat(a, &[], &chat_body("no-such-model-4711", "x", false));
    assert_eq!(r.status, 404);
    let rec = record_of(&gw, &r);
    assert_eq!(field(&rec, "ending"), "refused");
    assert_eq!(
        rec.get("attempts")
            .and_then(|v| v.as_array())
            .map(|a| a.len()),
        Some(0)
    );
    eventually("the refusal is counted", || counters(a, "unknown").0 == 1);
    assert!(!get(a, "/metrics").text().contains("no-such-model-4711"));
}

on_both_drivers!(
    the_record_keeps_every_attempt_and_its_usage,
    usage_is_recorded_for_every_delivery_path,
    prompt_tokens_count_the_cache_on_every_path,
    metrics_merge_all_workers,
);
