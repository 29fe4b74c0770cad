//! What the pipeline tests share: one mock behind all three upstream
//! formats, the Anthropic-dialect request, and the /metrics and usage
//! readers.
#![allow(dead_code)]

use std::net::SocketAddr;

use crate::common::*;
use simd_json::OwnedValue;
use simd_json::prelude::*;

/// One mock behind an OpenAI-compatible, an Anthropic and a Gemini
/// provider, plus primaries that always fail and fall back to `gpt`.
pub fn config(mock: SocketAddr, workers: usize, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = {workers}

[routing.breaker]
enabled = false

{extra}

[[providers]]
name = "oa"
kind = "openai_compatible"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "an"
kind = "anthropic"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "ge"
kind = "gemini"
base_url = "http://{mock}/v1beta"
forward_headers = ["x-mock-*"]

[[providers]]
name = "down"
kind = "openai_compatible"
base_url = "http://{mock}/fault/status=500/v1"

[[models]]
name = "gpt"
provider = "oa"
upstream_model = "mock-gpt"

[[models]]
name = "claude"
provider = "an"
upstream_model = "claude-sonnet-4-5"

[[models]]
name = "gem"
provider = "ge"
upstream_model = "gemini-2.5-flash"

[[models]]
name = "gpt-fb"
provider = "down"
fallbacks = ["gpt"]
"#
    )
}

pub const PROBE: &str = "[testing]\nprobe_stage = { set_temperature = 0.25, refuse_header = \"x-refuse\", hold_tool_calls = true }\n";

pub fn json(bytes: &[u8]) -> OwnedValue {
    let mut b = bytes.to_vec();
    simd_json::to_owned_value(&mut b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

pub fn messages_body(model: &str, text: &str, stream: bool) -> Vec<u8> {
    format!(
        r#"{{"model":"{model}","max_tokens":64,"temperature":0.9,"messages":[{{"role":"user","content":"{text}"}}],"stream":{stream}}}"#
    )
    .into_bytes()
}

pub fn post_messages(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> Response {
    post(addr, "/v1/messages", headers, body)
}

/// (requests, prompt tokens, completion tokens) at /metrics for `model`.
pub fn counters(gw: SocketAddr, model: &str) -> (u64, u64, u64) {
    let text = get(gw, "/metrics").text();
    let sum = |name: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(&format!("model=\"{model}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    (
        sum("tollgate_requests_total{"),
        sum("tollgate_prompt_tokens_total{"),
        sum("tollgate_completion_tokens_total{"),
    )
}

/// Sends one request and checks /metrics grew by one request and by the
/// usage the client was shown (`usage` reads it off the response).
pub fn grows_by(
    gw: SocketAddr,
    model: &str,
    send: impl FnOnce() -> Response,
    usage: impl FnOnce(&Response) -> (u64, u64),
) -> Response {
    let before = counters(gw, model);
    let r = send();
    assert_eq!(r.status, 200, "{}", r.text());
    let (p, c) = usage(&r);
    assert!(p > 0 && c > 0, "usage shown: {p}/{c} in {}", r.text());
    let want = (before.0 + 1, before.1 + p, before.2 + c);
    eventually(&format!("{model} counters reach {want:?}"), || {
        counters(gw, model) == want
    });
    r
}

pub fn n(v: Option<&OwnedValue>) -> u64 {
    v.and_then(|x| x.as_u64()).unwrap_or(0)
}

pub fn openai_usage(v: &OwnedValue) -> (u64, u64) {
    let u = v.get("usage");
    (
        n(u.and_then(|u| u.get("prompt_tokens"))),
        n(u.and_then(|u| u.get("completion_tokens"))),
    )
}

/// The usage chunks of an OpenAI stream.
pub fn usage_chunks(body: &[u8]) -> Vec<(u64, u64)> {
    sse_data(body)
        .iter()
        .filter(|d| d.starts_with('{'))
        .map(|d| json(d.as_bytes()))
        .filter(|v| v.get("usage").is_some_and(|u| u.is_object()))
        .map(|v| openai_usage(&v))
        .collect()
}

/// Input (with cache) and output tokens of an Anthropic answer or stream.
pub fn anthropic_usage(r: &Response) -> (u64, u64) {
    let events: Vec<OwnedValue> = if r.text().starts_with('{') {
        vec![r.json()]
    } else {
        sse_data(&r.body)
            .iter()
            .map(|d| json(d.as_bytes()))
            .collect()
    };
    let (mut input, mut output) = (0, 0);
    for v in &events {
        let u = v
            .get("usage")
            .or_else(|| v.get("message").and_then(|m| m.get("usage")));
        let Some(u) = u else { continue };
        let inp = [
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ]
        .iter()
        .map(|k| n(u.get(*k)))
        .sum::<u64>();
        input = input.max(inp);
        output = output.max(n(u.get("output_tokens")));
    }
    (input, output)
}

pub fn with_usage(model: &str) -> Vec<u8> {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"count these words"}}],"stream":true,"stream_options":{{"include_usage":true}}}}"#
    )
    .into_bytes()
}
