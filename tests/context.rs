//! Context windows through the real gateway and mock: a fallback from a
//! large-window model to a small one is fitted for the small one, `reject`
//! answers a 400 in the client's dialect, `summarize` asks its model through
//! the mock, a too-large `max_tokens` is lowered, a conversation growing
//! past the window keeps its fitted prefix from one request to the next,
//! the count endpoints answer from the same counter, and a gateway that
//! only sees small requests never loads a tokenizer (idle memory budget).

mod common;
mod pipeline_common;

use std::net::SocketAddr;

use common::*;
use pipeline_common::{json, n, post_messages};
use simd_json::OwnedValue;
use simd_json::prelude::*;

fn config(mock: SocketAddr) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1
access_log = true

[routing.breaker]
enabled = false

[catalog."mock-small"]
context_window = 3000
max_output_tokens = 2800
default_output_tokens = 500
tokenizer = "o200k"

[catalog."mock-big"]
context_window = 1000000
max_output_tokens = 8000
tokenizer = "o200k"

[[providers]]
name = "oa"
kind = "openai_compatible"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "down"
kind = "openai_compatible"
base_url = "http://{mock}/fault/status=500/v1"

[[models]]
name = "big"
provider = "down"
upstream_model = "mock-big"
fallbacks = ["small"]

[[models]]
name = "small"
provider = "oa"
upstream_model = "mock-small"
context = {{ strategies = ["truncate"] }}

[[models]]
name = "strict"
provider = "oa"
upstream_model = "mock-small"
context = {{ strategies = ["reject"] }}

[[models]]
name = "roomy"
provider = "oa"
upstream_model = "mock-big"

[[models]]
name = "growing"
provider = "oa"
upstream_model = "mock-small"
context = {{ strategies = ["truncate"], target_ratio = 0.5 }}

[[models]]
name = "summ"
provider = "oa"
upstream_model = "mock-summ"

[[models]]
name = "sum-small"
provider = "oa"
upstream_model = "mock-small"
context = {{ strategies = ["summarize", "truncate"], summarize_model = "summ" }}
"#
    )
}

/// A system prompt, then `turns` user/assistant pairs of about 200 tokens
/// each, then a last user question.
fn conversation(turns: usize) -> Vec<(String, String)> {
    let mut out = vec![("system".to_owned(), "You are terse.".to_owned())];
    for i in 0..turns {
        let words: String = (0..180).map(|w| format!("w{i}x{w} ")).collect();
        out.push(("user".into(), format!("turn {i}: {words}")));
        out.push(("assistant".into(), format!("noted {i}")));
    }
    out.push(("user".into(), "What was the first word?".into()));
    out
}

fn chat(model: &str, messages: &[(String, String)], max_tokens: Option<u32>) -> Vec<u8> {
    let msgs: Vec<String> = messages
        .iter()
        .map(|(r, c)| format!(r#"{{"role":"{r}","content":"{c}"}}"#))
        .collect();
    let max = max_tokens.map_or(String::new(), |m| format!(r#","max_tokens":{m}"#));
    format!(
        r#"{{"model":"{model}","messages":[{}]{max}}}"#,
        msgs.join(",")
    )
    .into_bytes()
}

fn last_sent(mock: SocketAddr) -> OwnedValue {
    json(&get(mock, "/mock/last-request").body)
}

/// The (role, content) pairs of a recorded OpenAI body.
fn sent_messages(body: &OwnedValue) -> Vec<(String, String)> {
    body.get("messages")
        .and_then(|m| m.as_array())
        .expect("messages")
        .iter()
        .map(|m| {
            let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            (s("role"), s("content"))
        })
        .collect()
}

fn prompt_tokens_of(gw: SocketAddr, model: &str, messages: &[(String, String)]) -> u64 {
    let r = post(
        gw,
        "/v1/chat/completions/count_tokens",
        &[],
        &chat(model, messages, None),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    n(r.json().get("input_tokens"))
}

/// `big` (a 1M window) fails; its fallback `small` (3,000 tokens) gets the
/// conversation fitted for it: system prompt and last question kept, the
/// oldest turns dropped, and what it is sent fits its window.
fn a_fallback_to_a_smaller_window_is_fitted_for_it(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let conv = conversation(20);
    assert!(prompt_tokens_of(gw.addr, "small", &conv) > 3000);
    let r = post_chat(
        gw.addr,
        &[("x-mock-record", "1")],
        &chat("big", &conv, None),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-model"), Some("mock-small"));
    assert_eq!(r.header("x-tollgate-context-strategy"), Some("truncate"));
    let reported: u64 = r
        .header("x-tollgate-prompt-tokens")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reported <= 2500,
        "prompt {reported} + default output 500 > 3000"
    );
    let dropped = r.header("x-tollgate-context-dropped").unwrap();
    assert!(dropped.starts_with("messages="), "{dropped}");
    let sent = sent_messages(&last_sent(mock.addr));
    assert!(sent.len() < conv.len(), "{} of {}", sent.len(), conv.len());
    assert_eq!(sent.first(), conv.first(), "the system prompt stays");
    assert_eq!(sent.last(), conv.last(), "the latest user turn stays");
    assert_eq!(
        sent[1].0, "user",
        "the conversation restarts on a user turn"
    );
    // What the small model got really fits, counted again from outside.
    assert!(prompt_tokens_of(gw.addr, "small", &sent) + 500 <= 3000);
}

/// `reject`: a clear 400 naming the counts, in each client's dialect, and
/// nothing reaches the provider.
fn reject_answers_400_in_the_clients_dialect(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let before = stat(mock.addr, "requests");
    let conv = conversation(20);
    let r = post_chat(gw.addr, &[], &chat("strict", &conv, None));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code(), "context_length_exceeded");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("3000-token context window"), "{msg}");

    let text: String = (0..4000).map(|w| format!("w{w} ")).collect();
    let body = format!(
        r#"{{"model":"strict","max_tokens":100,"system":"terse","messages":[{{"role":"user","content":"{text}"}}]}}"#
    );
    let r = post_messages(gw.addr, &[], body.as_bytes());
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["type"].as_str(), Some("error"), "{}", r.text());
    assert_eq!(v["error"]["type"].as_str(), Some("invalid_request_error"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("context window")
    );
    assert_eq!(
        stat(mock.addr, "requests"),
        before,
        "the provider was not asked"
    );
}

/// `summarize` asks `summ` through the mock, puts the summary in place of
/// the oldest turns, and the record counts the call.
fn summarize_asks_the_configured_model(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let before = stat(mock.addr, "requests");
    let conv = conversation(20);
    let r = post_chat(
        gw.addr,
        &[("x-mock-record", "1")],
        &chat("sum-small", &conv, None),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let strategy = r.header("x-tollgate-context-strategy").unwrap();
    assert!(strategy.starts_with("summarize"), "{strategy}");
    assert_eq!(stat(mock.addr, "requests"), before + 2, "summary + answer");
    let sent = sent_messages(&last_sent(mock.addr));
    assert!(
        sent.iter()
            .any(|(_, c)| c.starts_with("[Summary of the earlier conversation")),
        "{sent:?}"
    );
    assert_eq!(sent.last(), conv.last());
    let id = r.header("x-request-id").unwrap().to_owned();
    let line = gw.wait_log(0, &format!("{{\"request_id\":\"{id}\""));
    let rec = json(&line.as_bytes()[line.find('{').unwrap()..]);
    let summarized = rec["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["outcome"].as_str() == Some("summarize"))
        .unwrap_or_else(|| panic!("no summarize attempt in {line}"))
        .clone();
    assert_eq!(summarized["deployment"].as_str(), Some("oa/mock-summ"));
    assert!(n(summarized["usage"].get("prompt_tokens")) > 0, "{line}");
}

/// A `max_tokens` too large for the room left is lowered, and said so.
fn a_too_large_max_tokens_is_lowered(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let conv = conversation(1);
    let prompt = prompt_tokens_of(gw.addr, "small", &conv);
    let r = post_chat(
        gw.addr,
        &[("x-mock-record", "1")],
        &chat("small", &conv, Some(2800)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let lowered: u64 = r
        .header("x-tollgate-max-tokens-lowered")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        lowered < 2800 && prompt + lowered <= 3000,
        "{prompt} + {lowered}"
    );
    let sent = last_sent(mock.addr);
    let sent_max = n(sent.get("max_tokens")).max(n(sent.get("max_completion_tokens")));
    assert_eq!(sent_max, lowered, "{sent:?}");
    assert_eq!(sent_messages(&sent).len(), conv.len(), "nothing dropped");
}

/// Twenty turns past a 3,000-token window (cut in blocks of half the
/// window): the fitted requests the mock receives mostly begin with what
/// the previous one sent (bar its last question), so a provider's prompt
/// cache keeps hitting.
fn a_growing_conversation_keeps_its_fitted_prefix(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let mut conv = conversation(0);
    let mut previous: Option<Vec<(String, String)>> = None;
    let (mut shared, mut pairs, mut fitted) = (0, 0, 0);
    for turn in 0..20 {
        let words: String = (0..60).map(|w| format!("g{turn}x{w} ")).collect();
        conv.pop();
        conv.push(("user".into(), format!("turn {turn}: {words}")));
        conv.push(("assistant".into(), format!("ok {turn}")));
        conv.push(("user".into(), "Go on.".into()));
        let r = post_chat(
            gw.addr,
            &[("x-mock-record", "1")],
            &chat("small", &conv, None),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        fitted += usize::from(r.header("x-tollgate-context-strategy").is_some());
        let sent = sent_messages(&last_sent(mock.addr));
        assert!(prompt_tokens_of(gw.addr, "small", &sent) + 500 <= 3000);
        if let Some(prev) = &previous {
            pairs += 1;
            let head = &prev[..prev.len() - 1];
            shared += usize::from(sent.starts_with(head));
        }
        previous = Some(sent);
    }
    assert!(fitted >= 5, "only {fitted} of 20 requests needed fitting");
    assert!(
        shared * 10 >= pairs * 8,
        "{shared} of {pairs} consecutive fitted requests share the previous prefix"
    );
}

/// Both count endpoints answer from the one counter: the same conversation
/// in either dialect counts the same, exactly (o200k).
fn count_endpoints_agree_across_dialects(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let openai = br#"{"model":"small","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"how many tokens is this sentence?"}]}"#;
    let r = post(gw.addr, "/v1/chat/completions/count_tokens", &[], openai);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-count"), Some("exact"));
    assert_eq!(
        r.json()["object"].as_str(),
        Some("chat.completion.input_tokens")
    );
    let a = n(r.json().get("input_tokens"));
    let anthropic = br#"{"model":"small","system":"be brief","messages":[{"role":"user","content":"how many tokens is this sentence?"}]}"#;
    let r = post(gw.addr, "/v1/messages/count_tokens", &[], anthropic);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(n(r.json().get("input_tokens")), a);
    // The cookbook rule over o200k: 3 per message + role + text, 3 priming.
    assert!((15..30).contains(&a), "{a}");
}

/// Small requests pass the cheap bound: no tokenizer is loaded (o200k's
/// ranks alone are ~45 MiB), so the gateway stays in the 10 MiB budget
/// (anonymous memory: what it allocated, not its debug binary's pages);
/// the first request that must be counted loads it.
fn small_requests_load_no_tokenizer(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    for i in 0..200 {
        let r = post_chat(gw.addr, &[], &chat("roomy", &conversation(i % 3), None));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let small = proc_kib(gw.pid(), "RssAnon");
    assert!(
        small < 10 * 1024,
        "{small} KiB after 200 small fitted requests"
    );
    let r = post_chat(gw.addr, &[], &chat("small", &conversation(20), None));
    assert_eq!(r.status, 200, "{}", r.text());
    let counted = proc_kib(gw.pid(), "RssAnon");
    assert!(
        counted > small + 8 * 1024,
        "{small} -> {counted} KiB: no tokenizer loaded?"
    );
}

on_both_drivers!(
    a_fallback_to_a_smaller_window_is_fitted_for_it,
    reject_answers_400_in_the_clients_dialect,
    summarize_asks_the_configured_model,
    a_too_large_max_tokens_is_lowered,
    a_growing_conversation_keeps_its_fitted_prefix,
    count_endpoints_agree_across_dialects,
    small_requests_load_no_tokenizer,
);
