//! Translation end to end: OpenAI in through the real gateway, the real mock
//! upstream answering in Anthropic's or Gemini's own format from the recorded
//! fixtures, and the client receiving exactly the OpenAI answer, stream or
//! error those fixtures expect. Requests are checked on the mock's side.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use simd_json::OwnedValue;
use simd_json::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn config(mock: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1

# These tests look at translation only: every error fixture must come back
# as it is, not retried or cut short by a breaker.
[routing.retry]
max_attempts = 1

[routing.breaker]
enabled = false

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://{mock}/v1beta"
forward_headers = ["x-mock-*"]

[[models]]
name = "claude"
provider = "anthropic"
upstream_model = "claude-sonnet-4-5-20250929"

[[models]]
name = "claude-native"
provider = "anthropic"
upstream_model = "claude-sonnet-4-5-20250929"
native_structured_output = true

[[models]]
name = "gemini"
provider = "gemini"
upstream_model = "gemini-2.5-flash"

# Request goldens name their Gemini model: options follow the model generation.
[[models]]
name = "gemini-2.5-flash"
provider = "gemini"

[[models]]
name = "gemini-2.5-pro"
provider = "gemini"

[[models]]
name = "gemini-2.0-flash"
provider = "gemini"

[[models]]
name = "gemini-3-pro-preview"
provider = "gemini"
"#
    )
}

fn parse(bytes: &[u8]) -> OwnedValue {
    let mut b = bytes.to_vec();
    simd_json::to_owned_value(&mut b)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Drops what legitimately differs per run: ids, timestamps, model labels.
fn normalize(mut v: OwnedValue) -> OwnedValue {
    if let Some(o) = v.as_object_mut() {
        for key in ["id", "created", "model", "system_fingerprint"] {
            o.remove(key);
        }
    }
    v
}

fn fixture_names(provider: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(FIXTURES).join(provider))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| {
            f.strip_suffix(&format!(".openai.{ext}"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

fn fixture(provider: &str, file: &str) -> PathBuf {
    Path::new(FIXTURES).join(provider).join(file)
}

fn model_for(provider: &str) -> &'static str {
    if provider == "anthropic" {
        "claude"
    } else {
        "gemini"
    }
}

fn whole_answers_match_the_goldens(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let mut checked = 0;
    for provider in ["anthropic", "gemini"] {
        for name in fixture_names(provider, "json") {
            if !fixture(provider, &format!("{name}.json")).exists() {
                continue;
            }
            let expected =
                parse(&std::fs::read(fixture(provider, &format!("{name}.openai.json"))).unwrap());
            let r = post_chat(
                gw.addr,
                &[("x-mock-fixture", &name)],
                &chat_body(model_for(provider), "hi", false),
            );
            if let Some(status) = expected.get("status").and_then(|s| s.as_u64()) {
                assert_eq!(
                    u64::from(r.status),
                    status,
                    "{provider}/{name}: {}",
                    r.text()
                );
                assert_eq!(r.json(), expected["body"], "{provider}/{name}");
            } else {
                assert_eq!(r.status, 200, "{provider}/{name}: {}", r.text());
                assert_eq!(
                    normalize(r.json()),
                    normalize(expected),
                    "{provider}/{name}"
                );
                assert_eq!(r.header("x-tollgate-provider"), Some(provider));
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

fn streams_match_the_goldens_event_by_event(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let mut checked = 0;
    for provider in ["anthropic", "gemini"] {
        for name in fixture_names(provider, "sse") {
            if !fixture(provider, &format!("{name}.sse")).exists() {
                continue;
            }
            let expected_raw =
                std::fs::read(fixture(provider, &format!("{name}.openai.sse"))).unwrap();
            let expected = sse_data(&expected_raw);
            let include_usage = expected.iter().any(|d| d.contains("\"choices\":[]"));
            let body = format!(
                r#"{{"model":"{}","stream":true,"stream_options":{{"include_usage":{include_usage}}},"messages":[{{"role":"user","content":"hi"}}]}}"#,
                model_for(provider)
            );
            let r = post_chat(gw.addr, &[("x-mock-fixture", &name)], body.as_bytes());
            assert_eq!(r.status, 200, "{provider}/{name}");
            let got = sse_data(&r.body);
            assert_eq!(got.len(), expected.len(), "{provider}/{name}: {got:#?}");
            for (g, e) in got.iter().zip(&expected) {
                if e == "[DONE]" {
                    assert_eq!(g, e, "{provider}/{name}");
                } else {
                    assert_eq!(
                        normalize(parse(g.as_bytes())),
                        normalize(parse(e.as_bytes())),
                        "{provider}/{name}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} streams checked");
}

fn requests_reach_the_provider_translated(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let mut checked = 0;
    for provider in ["anthropic", "gemini"] {
        let dir = Path::new(FIXTURES).join(provider).join("requests");
        let mut cases: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|f| f.strip_suffix(".openai.json").map(str::to_string))
            .collect();
        cases.sort();
        for case in cases {
            let expected_path = dir.join(format!("{case}.{provider}.json"));
            let Ok(expected) = std::fs::read(&expected_path) else {
                continue;
            };
            let mut openai =
                parse(&std::fs::read(dir.join(format!("{case}.openai.json"))).unwrap());
            // Route to the provider under test, whatever model the case names.
            // Anthropic goldens assume native structured output except the
            // forced-tool case; Gemini goldens keep the model they name.
            if provider == "anthropic" {
                let model = if case.ends_with("_tool") {
                    "claude"
                } else {
                    "claude-native"
                };
                openai
                    .as_object_mut()
                    .unwrap()
                    .insert("model".into(), model.into());
            }
            if let Some(o) = openai.as_object_mut() {
                o.remove("stream");
                o.remove("stream_options");
            }
            let body = simd_json::to_vec(&openai).unwrap();
            let r = post_chat(gw.addr, &[("x-mock-record", "1")], &body);
            assert!(
                r.status == 200 || r.status == 502,
                "{provider}/{case}: {} {}",
                r.status,
                r.text()
            );
            let sent = normalize(get(mock.addr, "/mock/last-request").json());
            let mut expected = normalize(parse(&expected));
            if let Some(o) = expected.as_object_mut() {
                o.remove("stream");
            }
            let mut sent = sent;
            if let Some(o) = sent.as_object_mut() {
                o.remove("stream");
            }
            assert_eq!(sent, expected, "{provider}/{case}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} request cases checked");
}

fn cut_and_errors_mid_stream_are_explicit(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    for model in ["claude", "gemini"] {
        let r = post_chat(
            gw.addr,
            &[("x-mock-fault", "cut-after=3")],
            &chat_body(model, "one two three four five", true),
        );
        assert_eq!(r.status, 200);
        let data = sse_data(&r.body);
        assert!(!data.iter().any(|d| d == "[DONE]"), "{model}: {data:?}");
        assert!(
            data.last().unwrap().contains("\"error\""),
            "{model}: {data:?}"
        );
        // Errors before the first byte keep their status class.
        for (status, code) in [
            (400, 400),
            (401, 401),
            (429, 429),
            (500, 500),
            (529, 503),
            (503, 503),
        ] {
            let r = post_chat(
                gw.addr,
                &[("x-mock-fault", &format!("status={status}"))],
                &chat_body(model, "x", false),
            );
            if model == "gemini" && status == 529 {
                continue;
            }
            assert_eq!(r.status / 100, code / 100, "{model} {status}: {}", r.text());
            r.error_code();
        }
    }
}

fn echo_round_trip_in_both_formats(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    for model in ["claude", "gemini"] {
        let r = post_chat(
            gw.addr,
            &[],
            &chat_body(model, "hello translated world", false),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json()["choices"][0]["message"]["content"].as_str(),
            Some("hello translated world")
        );
        let mut c = Client::connect(gw.addr);
        c.post(
            "/v1/chat/completions",
            &[("x-mock-chunks", "5"), ("x-mock-chunk-delay-ms", "300")],
            &chat_body(model, "streamed as it arrives", true),
        );
        assert_eq!(c.read_head().unwrap().0, 200);
        let first = c.read_chunk_piece().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("chat.completion.chunk"));
        // Translated per event: the mock is still streaming.
        assert_eq!(
            stat(mock.addr, "streams_completed") % 2,
            if model == "claude" { 0 } else { 1 }
        );
        let mut rest = first;
        while let Some(p) = c.read_chunk_piece() {
            rest.extend_from_slice(&p);
        }
        let text: String = sse_data(&rest)
            .iter()
            .filter(|d| d.starts_with('{'))
            .filter_map(|d| {
                parse(d.as_bytes())["choices"][0]["delta"]
                    .get("content")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, "streamed as it arrives");
    }
}

fn bad_requests_for_translated_models_get_a_400_with_param(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&config(mock.addr), driver);
    let cases: [(&[u8], Option<&str>); 6] = [
        (br#"{"model":"claude","messages":"hi"}"#, Some("messages")),
        (
            br#"{"model":"claude","messages":[{"role":"user","content":5}]}"#,
            Some("messages[0].content"),
        ),
        (
            br#"{"model":"gemini","messages":[{"role":"wizard","content":"x"}]}"#,
            Some("messages[0].role"),
        ),
        (
            br#"{"model":"claude","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#,
            Some("temperature"),
        ),
        (
            b"{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
            None,
        ),
        (
            br#"{"model":"claude","messages":[{"role":"user","content":"x"}"#,
            None,
        ),
    ];
    for (body, param) in cases {
        let r = post_chat(gw.addr, &[], body);
        assert_eq!(
            r.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        r.error_code();
        if let Some(p) = param {
            assert_eq!(r.json()["error"]["param"].as_str(), Some(p), "{}", r.text());
        }
    }
    assert_eq!(
        stat(mock.addr, "requests"),
        0,
        "nothing invalid reached the provider"
    );
}

on_both_drivers!(
    bad_requests_for_translated_models_get_a_400_with_param,
    whole_answers_match_the_goldens,
    streams_match_the_goldens_event_by_event,
    requests_reach_the_provider_translated,
    cut_and_errors_mid_stream_are_explicit,
    echo_round_trip_in_both_formats,
);
