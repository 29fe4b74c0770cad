//! The count endpoints through the real gateway and mock, asking the
//! provider: a Gemini deployment's `countTokens` answers both dialects
//! (`x-tollgate-count: provider`), an Anthropic deployment's count answers
//! the Anthropic route only, `[context] provider_count = false` keeps the
//! local count, and a failing provider falls back to the local count.

mod common;
mod pipeline_common;

use std::net::SocketAddr;

use common::*;
use pipeline_common::n;
use simd_json::prelude::*;

/// The mock's Gemini count is 2000 + its estimate, Anthropic's 1000 + its
/// estimate; a local count of these short prompts stays well below both.
const GEMINI_OFFSET: u64 = 2000;
const ANTHROPIC_OFFSET: u64 = 1000;

fn config(mock: SocketAddr, provider_count: bool) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1

[routing.breaker]
enabled = false

[context]
provider_count = {provider_count}

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://{mock}/v1beta"

[[providers]]
name = "gemini-down"
kind = "gemini"
base_url = "http://{mock}/fault/status=500/v1beta"

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://{mock}/v1"

[[models]]
name = "gem"
provider = "gemini"
upstream_model = "gemini-2.5-flash"

[[models]]
name = "gem-down"
provider = "gemini-down"
upstream_model = "gemini-2.5-flash"

[[models]]
name = "claude"
provider = "anthropic"
upstream_model = "claude-sonnet-4-5-20250929"
"#
    )
}

const OPENAI_ROUTE: &str = "/v1/chat/completions/count_tokens";
const ANTHROPIC_ROUTE: &str = "/v1/messages/count_tokens";

fn openai_body(model: &str) -> Vec<u8> {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"system","content":"be brief"}},{{"role":"user","content":"how many tokens is this sentence?"}}]}}"#
    )
    .into_bytes()
}

fn anthropic_body(model: &str) -> Vec<u8> {
    format!(
        r#"{{"model":"{model}","system":"be brief","messages":[{{"role":"user","content":"how many tokens is this sentence?"}}]}}"#
    )
    .into_bytes()
}

/// Asks one route; the count and how it was had, with the dialect checked.
fn count(gw: SocketAddr, route: &str, body: &[u8]) -> (u64, String) {
    let r = post(gw, route, &[], body);
    assert_eq!(r.status, 200, "{route}: {}", r.text());
    let v = r.json();
    if route == OPENAI_ROUTE {
        assert_eq!(v["object"].as_str(), Some("chat.completion.input_tokens"));
    } else {
        assert!(v.get("object").is_none(), "{}", r.text());
    }
    let how = r.header("x-tollgate-count").unwrap_or("").to_owned();
    (n(v.get("input_tokens")), how)
}

fn is_local(how: &str) -> bool {
    how == "exact" || how == "estimate"
}

fn gemini_counts_come_from_its_count_endpoint_in_either_dialect(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, true), driver);
    for (route, body) in [
        (OPENAI_ROUTE, openai_body("gem")),
        (ANTHROPIC_ROUTE, anthropic_body("gem")),
    ] {
        let (tokens, how) = count(gw.addr, route, &body);
        assert_eq!(how, "provider", "{route}");
        // The mock's estimate of "be brief" + the question, over four.
        assert!(
            (GEMINI_OFFSET + 5..GEMINI_OFFSET + 20).contains(&tokens),
            "{route}: {tokens}"
        );
    }
}

fn provider_count_off_answers_the_local_count(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, false), driver);
    for (route, body) in [
        (OPENAI_ROUTE, openai_body("gem")),
        (ANTHROPIC_ROUTE, anthropic_body("gem")),
        (ANTHROPIC_ROUTE, anthropic_body("claude")),
    ] {
        let (tokens, how) = count(gw.addr, route, &body);
        assert!(is_local(&how), "{route}: {how}");
        assert!((1..ANTHROPIC_OFFSET).contains(&tokens), "{route}: {tokens}");
    }
}

fn a_failing_gemini_count_falls_back_to_the_local_count(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, true), driver);
    let (down, how) = count(gw.addr, OPENAI_ROUTE, &openai_body("gem-down"));
    assert!(is_local(&how), "{how}");
    assert!((1..ANTHROPIC_OFFSET).contains(&down), "{down}");
    let (down, how) = count(gw.addr, ANTHROPIC_ROUTE, &anthropic_body("gem-down"));
    assert!(is_local(&how), "{how}");
    assert!((1..ANTHROPIC_OFFSET).contains(&down), "{down}");
}

/// Anthropic's count takes the client's Anthropic body only: the OpenAI
/// route to an Anthropic deployment is counted locally.
fn anthropic_counts_only_its_own_dialect(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, true), driver);
    let (tokens, how) = count(gw.addr, ANTHROPIC_ROUTE, &anthropic_body("claude"));
    assert_eq!(how, "provider");
    assert!(
        (ANTHROPIC_OFFSET + 1..GEMINI_OFFSET).contains(&tokens),
        "{tokens}"
    );
    let (tokens, how) = count(gw.addr, OPENAI_ROUTE, &openai_body("claude"));
    assert!(is_local(&how), "{how}");
    assert!((1..ANTHROPIC_OFFSET).contains(&tokens), "{tokens}");
}

on_both_drivers!(
    gemini_counts_come_from_its_count_endpoint_in_either_dialect,
    provider_count_off_answers_the_local_count,
    a_failing_gemini_count_falls_back_to_the_local_count,
    anthropic_counts_only_its_own_dialect,
);
