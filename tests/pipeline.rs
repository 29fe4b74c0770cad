//! The request pipeline end to end: the probe policy stage (rewrite, refuse,
//! hold tool calls) on every upstream format, truncated passthrough streams
//! ending in an explicit error event, and the same error for the same
//! malformed body whatever provider it would go to. Usage and /metrics are
//! in `usage.rs`.

mod common;
mod pipeline_common;

use std::net::SocketAddr;

use common::*;
use pipeline_common::*;
use simd_json::prelude::*;

/// The temperature the mock was last sent, whatever the upstream format.
fn sent_temperature(mock: SocketAddr) -> f64 {
    let v = get(mock, "/mock/last-request").json();
    v.get("temperature")
        .or_else(|| v.get("generationConfig").and_then(|g| g.get("temperature")))
        .and_then(|t| t.as_f64())
        .unwrap_or_else(|| panic!("no temperature sent: {v:?}"))
}

fn probe_rewrites_temperature_on_every_format_and_fallback(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, 1, PROBE), driver);
    let rec = [("x-mock-record", "1")];
    for model in ["gpt", "claude", "gem", "gpt-fb"] {
        let body = format!(
            r#"{{"model":"{model}","temperature":0.9,"messages":[{{"role":"user","content":"hi"}}]}}"#
        );
        let r = post_chat(gw.addr, &rec, body.as_bytes());
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        assert_eq!(sent_temperature(mock.addr), 0.25, "{model}");
        let r = post_messages(gw.addr, &rec, &messages_body(model, "hi", false));
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        assert_eq!(
            sent_temperature(mock.addr),
            0.25,
            "{model} via /v1/messages"
        );
    }
}

fn probe_refuses_in_both_dialects(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, 1, PROBE), driver);
    let refuse = [("x-refuse", "1")];
    let r = post_chat(gw.addr, &refuse, &chat_body("claude", "hi", false));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.error_code(), "refused_by_policy");
    let r = post_messages(gw.addr, &refuse, &messages_body("gpt", "hi", true));
    assert_eq!(r.status, 403, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v.get("type").and_then(|t| t.as_str()),
        Some("error"),
        "{v:?}"
    );
    let kind = v.get("error").and_then(|e| e.get("type"));
    assert_eq!(kind.and_then(|t| t.as_str()), Some("permission_error"));
    assert!(r.header("request-id").is_some(), "{:?}", r.headers);
    assert_eq!(
        stat(mock.addr, "requests"),
        0,
        "a refused request never leaves"
    );
}

/// The arguments fragments of each streamed tool call, by call index.
fn openai_tool_fragments(body: &[u8]) -> (Vec<Vec<String>>, String) {
    let (mut calls, mut text) = (Vec::<Vec<String>>::new(), String::new());
    for data in sse_data(body).iter().filter(|d| d.starts_with('{')) {
        let v = json(data.as_bytes());
        let Some(delta) = v
            .get("choices")
            .and_then(|c| c.get_idx(0))
            .and_then(|c| c.get("delta"))
        else {
            continue;
        };
        if let Some(t) = delta.get("content").and_then(|t| t.as_str()) {
            text.push_str(t);
        }
        for call in delta
            .get("tool_calls")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
        {
            let i = call.get("index").and_then(|i| i.as_u64()).unwrap() as usize;
            if calls.len() <= i {
                calls.resize(i + 1, Vec::new());
            }
            let args = call.get("function").and_then(|f| f.get("arguments"));
            calls[i].push(args.and_then(|a| a.as_str()).unwrap_or("").to_string());
        }
    }
    (calls, text)
}

fn input_json_fragments(body: &[u8]) -> Vec<String> {
    sse_data(body)
        .iter()
        .map(|d| json(d.as_bytes()))
        .filter_map(|v| {
            let delta = v.get("delta")?;
            (delta.get("type")?.as_str()? == "input_json_delta")
                .then(|| delta.get("partial_json")?.as_str().map(str::to_string))?
        })
        .collect()
}

fn held_tool_calls_arrive_whole(driver: &str) {
    let mock = start_mock(driver);
    let held = start_gateway(&config(mock.addr, 1, PROBE), driver);
    let plain = start_gateway(&config(mock.addr, 1, ""), driver);
    let cases = [("claude", "tool_use_stream"), ("gem", "partial_args")];
    for (model, fixture) in cases {
        let fx = [("x-mock-fixture", fixture)];
        let body = chat_body(model, "weather?", true);
        let (calls, _) = openai_tool_fragments(&post_chat(plain.addr, &fx, &body).body);
        assert!(
            calls.iter().any(|c| c.len() > 1),
            "{fixture} must stream its arguments in pieces: {calls:?}"
        );
        let r = post_chat(held.addr, &fx, &body);
        assert_eq!(r.status, 200);
        let (calls, text) = openai_tool_fragments(&r.body);
        assert!(!calls.is_empty(), "{}", r.text());
        for fragments in &calls {
            assert_eq!(fragments.len(), 1, "one piece per call: {fragments:?}");
            json(fragments[0].as_bytes());
        }
        if model == "claude" {
            assert!(
                text.contains("weather in Paris"),
                "text still flows: {text}"
            );
        }
    }
    // The Anthropic dialect holds the same way: one input_json_delta, whole.
    let fx = [("x-mock-fixture", "tool_use_stream")];
    let body = messages_body("claude", "weather?", true);
    let pieces = input_json_fragments(&post_messages(plain.addr, &fx, &body).body);
    assert!(pieces.len() > 1, "{pieces:?}");
    let r = post_messages(held.addr, &fx, &body);
    let pieces = input_json_fragments(&r.body);
    assert_eq!(pieces.len(), 1, "{}", r.text());
    json(pieces[0].as_bytes());
    assert!(r.text().contains("text_delta"), "{}", r.text());
}
/// The last event of a stream that must end in an error, not a clean end.
fn ends_in_error(r: &Response, anthropic: bool) {
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let last = sse_data(&r.body).pop().unwrap_or_default();
    if anthropic {
        assert!(!text.contains("message_stop"), "{text}");
        assert!(
            text.trim_end()
                .rsplit("\n\n")
                .next()
                .unwrap()
                .starts_with("event: error"),
            "{text}"
        );
        assert_eq!(
            json(last.as_bytes()).get("type").and_then(|t| t.as_str()),
            Some("error")
        );
    } else {
        assert!(!text.contains("[DONE]"), "{text}");
        assert!(json(last.as_bytes()).get("error").is_some(), "{text}");
    }
}

fn truncated_passthrough_streams_end_in_an_error_event(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(
        &config(mock.addr, 1, "[routing.retry]\nmax_attempts = 1\n"),
        driver,
    );
    for fault in ["cut-after=2", "drop-last"] {
        let h = [("x-mock-fault", fault), ("x-mock-chunks", "4")];
        let r = post_chat(gw.addr, &h, &chat_body("gpt", "one two three four", true));
        ends_in_error(&r, false);
        let r = post_chat(gw.addr, &h, &with_usage("gpt"));
        ends_in_error(&r, false);
        let r = post_messages(gw.addr, &h, &messages_body("claude", "one two three", true));
        ends_in_error(&r, true);
    }
    // A recorded Anthropic stream that stops mid-event, relayed same-dialect.
    let h = [("x-mock-fixture", "cut_stream")];
    let r = post_messages(gw.addr, &h, &messages_body("claude", "weather", true));
    ends_in_error(&r, true);
}

fn malformed_bodies_get_the_same_error_whatever_the_provider(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, 1, ""), driver);
    // The faults both the passthrough inspection and the canonical parse see.
    let shapes = [
        r#"{"model":"M","messages":"nope"}"#,
        r#"{"model":"M"}"#,
        r#"{"model":"M","messages":[]}"#,
        r#"{"model":"M","messages":[{"content":"x"}]}"#,
        r#"{"model":"M","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
        r#"{"model":"M","messages":[{"role":"user","content":"x"}],"stream_options":7}"#,
    ];
    for shape in shapes {
        let answers: Vec<(u16, String, String)> = ["gpt", "claude", "gem"]
            .iter()
            .map(|m| {
                let r = post_chat(gw.addr, &[], shape.replace('M', m).as_bytes());
                let param = r
                    .json()
                    .get("error")
                    .and_then(|e| e.get("param"))
                    .map(|p| format!("{p:?}"));
                (r.status, r.error_code(), param.unwrap_or_default())
            })
            .collect();
        assert_eq!(answers[0].0, 400, "{shape}: {answers:?}");
        assert!(
            answers.iter().all(|a| a == &answers[0]),
            "{shape}: {answers:?}"
        );
    }
    let r = post_chat(gw.addr, &[], br#"{"model":7,"messages":[]}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!r.error_code().is_empty(), "{}", r.text());
}
on_both_drivers!(
    probe_rewrites_temperature_on_every_format_and_fallback,
    probe_refuses_in_both_dialects,
    held_tool_calls_arrive_whole,
    truncated_passthrough_streams_end_in_an_error_event,
    malformed_bodies_get_the_same_error_whatever_the_provider,
);
