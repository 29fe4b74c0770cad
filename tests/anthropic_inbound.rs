//! `POST /v1/messages` through the real gateway: the same-dialect path
//! byte-exact both ways, errors in each client's own shape whatever shape
//! the upstream used, keys on /v1/models, and fallback, retries and hedging
//! across dialects for an Anthropic client.

mod common;

use std::net::SocketAddr;

use common::*;
use simd_json::OwnedValue;
use simd_json::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn provider(name: &str, kind: &str, mock: SocketAddr, fault: &str) -> String {
    let root = if kind == "gemini" { "v1beta" } else { "v1" };
    let path = match fault {
        "" => format!("/{root}"),
        f => format!("/fault/{f}/{root}"),
    };
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"{kind}\"\nbase_url = \"http://{mock}{path}\"\nforward_headers = [\"x-mock-*\"]\n\n"
    )
}

fn model(name: &str, provider: &str, upstream: &str, extra: &str) -> String {
    format!(
        "[[models]]\nname = \"{name}\"\nprovider = \"{provider}\"\nupstream_model = \"{upstream}\"\n{extra}\n"
    )
}

/// `gpt` (OpenAI-compatible) and `claude` (Anthropic) on one mock, with `rest` appended.
fn config(mock: SocketAddr, rest: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n\n[routing.breaker]\nenabled = false\n\n{}{}{}{}{rest}",
        provider("oa", "openai_compatible", mock, ""),
        provider("an", "anthropic", mock, ""),
        model("gpt", "oa", "mock-gpt", ""),
        model("claude", "an", "claude-sonnet-4-5", ""),
    )
}

fn messages(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> Response {
    post(addr, "/v1/messages", headers, body)
}

fn body(model: &str, stream: bool) -> Vec<u8> {
    format!(
        r#"{{"model":"{model}","max_tokens":32,"messages":[{{"role":"user","content":"hello there"}}],"stream":{stream}}}"#
    )
    .into_bytes()
}

/// `{"type":"error","error":{"type":KIND,...}}`, with a `request-id` header.
fn anthropic_error(r: &Response) -> String {
    let v = r.json();
    assert_eq!(
        v.get("type").and_then(|t| t.as_str()),
        Some("error"),
        "{}",
        r.text()
    );
    let err = v.get("error").unwrap_or_else(|| panic!("{}", r.text()));
    assert!(
        err.get("message").and_then(|m| m.as_str()).is_some(),
        "{}",
        r.text()
    );
    assert!(
        r.header("request-id").is_some(),
        "no request-id: {:?}",
        r.headers
    );
    err.get("type")
        .and_then(|t| t.as_str())
        .unwrap()
        .to_string()
}

fn same_dialect_is_byte_exact_both_ways(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr, ""), driver);
    let sent = r#"{"model":"claude","max_tokens":32,  "x_future":{"a":[1,2.50,"\u00e9"]},"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}},{"type":"mystery_block","z":null}]}]}"#;
    let r = messages(gw.addr, &[("x-mock-record", "1")], sent.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let arrived = get(mock.addr, "/mock/last-request").text();
    let want = sent.replacen("\"model\":\"claude\"", "\"model\":\"claude-sonnet-4-5\"", 1);
    assert_eq!(arrived, want, "only `model` may change on the way up");
    // The answer comes back as the upstream sent it, whole and streamed.
    let whole = std::fs::read(format!("{FIXTURES}/anthropic/thinking_response.json")).unwrap();
    let fx = [("x-mock-fixture", "thinking_response")];
    let r = messages(gw.addr, &fx, &body("claude", false));
    assert_eq!(r.body, whole, "{}", r.text());
    let raw = std::fs::read(format!("{FIXTURES}/anthropic/thinking_stream.sse")).unwrap();
    let fx = [("x-mock-fixture", "thinking_stream")];
    let r = messages(gw.addr, &fx, &body("claude", true));
    assert_eq!(r.text(), String::from_utf8_lossy(&raw));
    // anthropic-beta reaches an Anthropic upstream.
    let h = [
        ("x-mock-echo-request", "1"),
        ("anthropic-beta", "fancy-2099-01-01"),
    ];
    let r = messages(gw.addr, &h, &body("claude", false));
    let headers = r
        .json()
        .get("headers")
        .cloned()
        .unwrap_or_else(|| panic!("{}", r.text()));
    let beta = headers.get("anthropic-beta").and_then(|b| b.as_str());
    assert_eq!(beta, Some("fancy-2099-01-01"), "{headers:?}");
}

fn errors_are_in_the_clients_shape_whatever_the_upstream_said(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(
        &config(mock.addr, "[routing.retry]\nmax_attempts = 1\n"),
        driver,
    );
    let detail = [("x-mock-fault", "status=429;retry-after=7;detail-body")];
    for model in ["gpt", "claude"] {
        let r = post_chat(gw.addr, &detail, &chat_body(model, "hi", false));
        assert_eq!(r.status, 429, "{model}: {}", r.text());
        assert_eq!(r.header("retry-after"), Some("7"), "{model}");
        r.error_code();
        let r = messages(gw.addr, &detail, &body(model, false));
        assert_eq!(r.status, 429, "{model}: {}", r.text());
        assert_eq!(r.header("retry-after"), Some("7"), "{model}");
        assert_eq!(anthropic_error(&r), "rate_limit_error", "{model}");
    }
    // Anthropic's statuses and types, whichever upstream produced the error.
    for (status, kind) in [
        (529, "overloaded_error"),
        (500, "api_error"),
        (400, "invalid_request_error"),
    ] {
        for model in ["gpt", "claude"] {
            let fault = format!("status={status}");
            let r = messages(gw.addr, &[("x-mock-fault", &fault)], &body(model, false));
            assert_eq!(r.status, status, "{model}: {}", r.text());
            assert_eq!(anthropic_error(&r), kind, "{model} {status}");
        }
    }
    // What Anthropic requires is refused alike, same-dialect or translated.
    let shapes = [
        r#"{"model":"M","messages":[{"role":"user","content":"x"}]}"#,
        r#"{"model":"M","max_tokens":0,"messages":[{"role":"user","content":"x"}]}"#,
        r#"{"model":"M","max_tokens":9,"messages":"x"}"#,
        r#"{"model":"M","max_tokens":9,"messages":[]}"#,
    ];
    for shape in shapes {
        let answers: Vec<(u16, String, String)> = ["claude", "gpt"]
            .iter()
            .map(|m| {
                let r = messages(gw.addr, &[], shape.replace('M', m).as_bytes());
                let v = r.json();
                let message = v
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(|m| m.as_str());
                (
                    r.status,
                    anthropic_error(&r),
                    message.unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(answers[0].0, 400, "{shape}: {answers:?}");
        assert_eq!(
            answers[0].1, "invalid_request_error",
            "{shape}: {answers:?}"
        );
        assert_eq!(answers[0], answers[1], "{shape}");
    }
    let r = messages(gw.addr, &[], &body("no-such-model", false));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(anthropic_error(&r), "not_found_error");
}

fn keys_guard_messages_and_models(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let key_file = dir.path.join("key");
    std::fs::write(&key_file, "sk-client-123").unwrap();
    let keys = format!(
        "[[keys]]\nid = \"team\"\nkey = \"file:{}\"\n",
        key_file.display()
    );
    let gw = start_gateway(&config(mock.addr, &keys), driver);
    let r = messages(gw.addr, &[], &body("claude", false));
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(anthropic_error(&r), "authentication_error");
    for auth in [
        ("x-api-key", "sk-client-123"),
        ("authorization", "Bearer sk-client-123"),
    ] {
        let r = messages(gw.addr, &[auth], &body("claude", false));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = get(gw.addr, "/v1/models");
    assert_eq!(r.status, 401, "{}", r.text());
    r.error_code();
    let mut c = Client::connect(gw.addr);
    c.send(b"GET /v1/models HTTP/1.1\r\nhost: t\r\nauthorization: Bearer sk-client-123\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("claude"), "{}", r.text());
}

fn text_of(v: &OwnedValue) -> String {
    v.get("content")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("text").and_then(|t| t.as_str()))
        .collect()
}

fn fallback_retries_and_hedging_cross_dialects(driver: &str) {
    let (mock, slow) = (start_mock(driver), start_mock(driver));
    let rest = format!(
        "{}{}{}{}{}{}",
        provider("an-down", "anthropic", mock.addr, "status=500"),
        provider("an-once", "anthropic", mock.addr, "status=503;times=1"),
        provider("an-slow", "anthropic", slow.addr, "latency-ms=5000"),
        model("claude-fb", "an-down", "claude-x", "fallbacks = [\"gpt\"]"),
        model("claude-retry", "an-once", "claude-x", ""),
        model(
            "claude-hedge",
            "an-slow",
            "claude-x",
            "fallbacks = [\"gpt\"]\nhedge = { after_ms = 100 }"
        ),
    );
    let gw = start_gateway(&config(mock.addr, &rest), driver);
    for stream in [false, true] {
        let r = messages(gw.addr, &[], &body("claude-fb", stream));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-tollgate-provider"), Some("oa"));
        if stream {
            let text = r.text();
            assert!(text.starts_with("event: message_start"), "{text}");
            assert!(
                text.contains("there") && text.contains("event: message_stop"),
                "{text}"
            );
        } else {
            let v = r.json();
            assert_eq!(
                v.get("type").and_then(|t| t.as_str()),
                Some("message"),
                "{v:?}"
            );
            assert!(text_of(&v).contains("hello there"), "{v:?}");
        }
    }
    let r = messages(gw.addr, &[], &body("claude-retry", false));
    assert_eq!(r.status, 200, "{}", r.text());
    let route = r.header("x-tollgate-route").unwrap_or_default().to_string();
    assert!(route.contains("attempts=2"), "{route}");
    for stream in [false, true] {
        let r = messages(gw.addr, &[], &body("claude-hedge", stream));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-tollgate-provider"), Some("oa"));
        let route = r.header("x-tollgate-route").unwrap_or_default();
        assert!(route.contains("hedged"), "{route}");
    }
    eventually("hedged-out attempts hung up", || {
        stat(slow.addr, "connections_open") == 1
    });
}

on_both_drivers!(
    same_dialect_is_byte_exact_both_ways,
    errors_are_in_the_clients_shape_whatever_the_upstream_said,
    keys_guard_messages_and_models,
    fallback_retries_and_hedging_cross_dialects,
);
