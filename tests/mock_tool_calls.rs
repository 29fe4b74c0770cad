//! The mock upstream's test-chosen answers, through a real `tollgate
//! mock-upstream` process: tool calls with exact names and arguments in every
//! format, whole and streamed; the provider extras a sanitizer should strip;
//! a chosen text cut at chosen byte offsets.

mod common;

use common::*;
use simd_json::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Api {
    OpenAi,
    Anthropic,
    Gemini,
}

const APIS: [Api; 3] = [Api::OpenAi, Api::Anthropic, Api::Gemini];

/// Duplicate keys: they must survive in every format.
const WEATHER_ARGS: &str = r#"{"city":"Paris","city":"Lyon","days":[1,2]}"#;

fn request(mock: &Proc, api: Api, stream: bool, headers: &[(&str, &str)]) -> Response {
    let (path, body) = match api {
        Api::OpenAi => (
            "/v1/chat/completions".to_string(),
            format!(
                r#"{{"model":"gpt-x","messages":[{{"role":"user","content":"hi"}}],"stream":{stream},"stream_options":{{"include_usage":true}}}}"#
            ),
        ),
        Api::Anthropic => (
            "/v1/messages".to_string(),
            format!(
                r#"{{"model":"claude-x","max_tokens":64,"messages":[{{"role":"user","content":"hi"}}],"stream":{stream}}}"#
            ),
        ),
        Api::Gemini => {
            let method = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            (
                format!("/v1beta/models/gemini-x:{method}"),
                r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#.to_string(),
            )
        }
    };
    post(mock.addr, &path, headers, body.as_bytes())
}

/// The JSON `data:` payloads of a stream, `[DONE]` left out.
fn events(r: &Response) -> Vec<simd_json::OwnedValue> {
    assert_eq!(r.status, 200, "{}", r.text());
    sse_data(&r.body)
        .into_iter()
        .filter(|d| d != "[DONE]")
        .map(|d| {
            let mut b = d.into_bytes();
            simd_json::to_owned_value(&mut b).expect("JSON event")
        })
        .collect()
}

fn str_of(v: &simd_json::OwnedValue) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// What an answer said: its text, its calls' names and argument texts (as
/// the wire carries them: a string, or the raw object found in the body),
/// and how many events carried argument fragments.
#[derive(Debug, Default, PartialEq)]
struct Said {
    text: String,
    calls: Vec<(String, String)>,
    argument_events: usize,
}

fn said(api: Api, stream: bool, r: &Response) -> Said {
    match (api, stream) {
        (Api::OpenAi, false) => openai_whole(r),
        (Api::OpenAi, true) => openai_stream(r),
        (Api::Anthropic, false) => {
            let v = r.json();
            assert_eq!(v["stop_reason"], "tool_use");
            object_calls(&r.text(), &v["content"], anthropic_tool_use, "input")
        }
        (Api::Anthropic, true) => anthropic_stream(r),
        (Api::Gemini, false) => gemini_whole(r),
        (Api::Gemini, true) => gemini_stream(r),
    }
}

fn openai_whole(r: &Response) -> Said {
    let v = r.json();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let message = &v["choices"][0]["message"];
    let calls = message["tool_calls"].as_array().unwrap();
    for (i, call) in calls.iter().enumerate() {
        assert_eq!(call["id"], format!("call_{i}").as_str());
        assert_eq!(call["type"], "function");
    }
    Said {
        text: message["content"].as_str().unwrap_or_default().to_string(),
        calls: calls
            .iter()
            .map(|c| {
                (
                    str_of(&c["function"]["name"]),
                    str_of(&c["function"]["arguments"]),
                )
            })
            .collect(),
        argument_events: 0,
    }
}

fn openai_stream(r: &Response) -> Said {
    let mut out = Said::default();
    let evs = events(r);
    let finish: Vec<_> = evs
        .iter()
        .filter_map(|e| {
            e["choices"].as_array()?.first()?["finish_reason"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(finish, ["tool_calls"]);
    assert!(
        evs.last().unwrap().get("usage").is_some(),
        "usage chunk last"
    );
    for e in &evs {
        let Some(delta) = e["choices"]
            .as_array()
            .and_then(|c| c.first())
            .map(|c| &c["delta"])
        else {
            continue;
        };
        if let Some(t) = delta.get("content").and_then(|c| c.as_str()) {
            out.text.push_str(t);
        }
        let Some(calls) = delta.get("tool_calls").and_then(|c| c.as_array()) else {
            continue;
        };
        let call = &calls[0];
        let i = call["index"].as_usize().unwrap();
        if let Some(name) = call["function"].get("name") {
            assert_eq!(i, out.calls.len(), "a call starts once, in order");
            assert_eq!(call["id"], format!("call_{i}").as_str());
            out.calls.push((str_of(name), String::new()));
        }
        let piece = str_of(&call["function"]["arguments"]);
        out.argument_events += usize::from(!piece.is_empty());
        out.calls[i].1.push_str(&piece);
    }
    out
}

type Value = simd_json::OwnedValue;

/// The text and calls of Anthropic blocks or Gemini parts (`call_of` picks
/// a call out of one); a call's `field` is an object whose raw text is
/// taken from `raw`, the JSON it came in, where it must appear byte for byte.
fn object_calls(
    raw: &str,
    blocks: &Value,
    call_of: fn(&Value) -> Option<&Value>,
    field: &str,
) -> Said {
    let marker = format!("\"{field}\":");
    let mut out = Said::default();
    let mut from = 0;
    for b in blocks.as_array().unwrap() {
        if let Some(t) = b.get("text") {
            out.text.push_str(&str_of(t));
        }
        let Some(call) = call_of(b) else { continue };
        let at = from + raw[from..].find(&marker).expect("arguments in the body") + marker.len();
        let value = raw_value(&raw[at..]);
        out.calls.push((str_of(&call["name"]), value.to_string()));
        from = at + value.len();
    }
    out
}

/// The JSON object or array `s` starts with, as written.
fn raw_value(s: &str) -> &str {
    let (mut depth, mut in_string, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' | '[' if !in_string => depth += 1,
            '}' | ']' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unterminated JSON: {s}")
}

fn anthropic_tool_use(b: &Value) -> Option<&Value> {
    (b["type"] == "tool_use").then_some(b)
}

fn gemini_function_call(p: &Value) -> Option<&Value> {
    p.get("functionCall")
}

fn anthropic_stream(r: &Response) -> Said {
    let evs = events(r);
    let mut out = Said::default();
    let kinds: Vec<String> = evs.iter().map(|e| str_of(&e["type"])).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("message_start"));
    assert_eq!(kinds.last().map(String::as_str), Some("message_stop"));
    let delta = evs.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
    for e in &evs {
        match e["type"].as_str().unwrap() {
            "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                let block = &e["content_block"];
                assert_eq!(block["id"], format!("toolu_{}", out.calls.len()).as_str());
                assert_eq!(block["input"].as_object().map(|o| o.len()), Some(0));
                out.calls.push((str_of(&block["name"]), String::new()));
            }
            "content_block_delta" => match e["delta"]["type"].as_str().unwrap() {
                "text_delta" => out.text.push_str(&str_of(&e["delta"]["text"])),
                "input_json_delta" => {
                    let piece = str_of(&e["delta"]["partial_json"]);
                    out.argument_events += usize::from(!piece.is_empty());
                    out.calls.last_mut().unwrap().1.push_str(&piece);
                }
                other => panic!("unexpected delta {other}"),
            },
            _ => {}
        }
    }
    out
}

fn gemini_whole(r: &Response) -> Said {
    let v = r.json();
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    object_calls(
        &r.text(),
        &v["candidates"][0]["content"]["parts"],
        gemini_function_call,
        "args",
    )
}

fn gemini_stream(r: &Response) -> Said {
    let evs = events(r);
    let last = evs.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(last.get("usageMetadata").is_some());
    let mut out = Said::default();
    for (i, (raw, e)) in sse_data(&r.body).iter().zip(&evs).enumerate() {
        let parts = &e["candidates"][0]["content"]["parts"];
        let chunk = object_calls(raw, parts, gemini_function_call, "args");
        if i + 1 < evs.len() {
            assert!(
                chunk.calls.is_empty(),
                "calls come whole, in the last chunk"
            );
        }
        out.text.push_str(&chunk.text);
        out.calls.extend(chunk.calls);
    }
    out
}

fn tool_calls_in_every_format_whole_and_streamed(driver: &str) {
    let mock = start_mock(driver);
    let weather = format!("get_weather {WEATHER_ARGS}");
    let headers = [
        ("x-mock-tool-call", weather.as_str()),
        ("x-mock-tool-call", "get_time {}"),
        ("x-mock-tool-text", "Checking both."),
        ("x-mock-chunks", "4"),
    ];
    let want = vec![
        ("get_weather".to_string(), WEATHER_ARGS.to_string()),
        ("get_time".to_string(), "{}".to_string()),
    ];
    for api in APIS {
        for stream in [false, true] {
            let r = request(&mock, api, stream, &headers);
            assert_eq!(r.status, 200, "{api:?} stream={stream}: {}", r.text());
            let got = said(api, stream, &r);
            let case = format!("{api:?} stream={stream}: {}", r.text());
            assert_eq!(got.calls, want, "{case}");
            assert_eq!(got.text, "Checking both.", "{case}");
            if stream && !matches!(api, Api::Gemini) {
                // Four pieces of the first call's arguments, two of the second's.
                assert_eq!(got.argument_events, 6, "{case}");
            }
        }
    }
}

fn openai_arguments_pass_through_as_written(driver: &str) {
    let mock = start_mock(driver);
    for args in [r#"{"a":1,"a":"#, "not json at all", r#"{"q":"é \"x\""}"#] {
        let call = format!("run {args}");
        for stream in [false, true] {
            let r = request(&mock, Api::OpenAi, stream, &[("x-mock-tool-call", &call)]);
            let got = said(Api::OpenAi, stream, &r);
            assert_eq!(
                got.calls,
                [("run".to_string(), args.to_string())],
                "stream={stream}"
            );
            assert_eq!(got.text, "");
        }
    }
    // An Anthropic stream carries pieces of a string, so invalid JSON passes too.
    let r = request(
        &mock,
        Api::Anthropic,
        true,
        &[("x-mock-tool-call", r#"run {"a":"#)],
    );
    assert_eq!(
        said(Api::Anthropic, true, &r).calls,
        [("run".to_string(), r#"{"a":"#.to_string())]
    );
}

fn object_formats_refuse_arguments_that_are_no_object(driver: &str) {
    let mock = start_mock(driver);
    let cases = [
        (Api::Anthropic, false),
        (Api::Gemini, false),
        (Api::Gemini, true),
    ];
    for (api, stream) in cases {
        let r = request(&mock, api, stream, &[("x-mock-tool-call", "run [1,2]")]);
        assert_eq!(r.status, 400, "{api:?} stream={stream}: {}", r.text());
        assert_eq!(r.error_code(), "bad_mock_header");
    }
}

fn provider_extras_are_sent_when_asked(driver: &str) {
    let mock = start_mock(driver);
    let on = [("x-mock-provider-extras", "1")];
    let wanted: [(Api, &[(&str, &str)]); 2] = [
        (
            Api::OpenAi,
            &[
                ("openai-organization", "org-mock"),
                ("x-request-id", "req_mock_upstream"),
                ("openai-processing-ms", "7"),
            ],
        ),
        (
            Api::Anthropic,
            &[
                ("anthropic-organization-id", "org-mock"),
                ("request-id", "req_mock_upstream"),
            ],
        ),
    ];
    for (api, headers) in wanted {
        for stream in [false, true] {
            let r = request(&mock, api, stream, &on);
            assert_eq!(r.status, 200);
            for (name, value) in headers {
                assert_eq!(r.header(name), Some(*value), "{api:?} stream={stream}");
            }
            let plain = request(&mock, api, stream, &[]);
            for (name, _) in headers {
                assert_eq!(plain.header(name), None, "{api:?} stream={stream}");
            }
        }
    }
    let whole = request(&mock, Api::OpenAi, false, &on).json();
    assert_eq!(whole["system_fingerprint"], "fp_mock");
    assert_eq!(whole["service_tier"], "default");
    let plain = request(&mock, Api::OpenAi, false, &[]).json();
    assert!(plain["system_fingerprint"].is_null());
    assert!(plain.get("service_tier").is_none());
    for e in events(&request(&mock, Api::OpenAi, true, &on)) {
        assert_eq!(e["system_fingerprint"], "fp_mock");
        assert_eq!(e["service_tier"], "default");
    }
    let tools = request(
        &mock,
        Api::OpenAi,
        false,
        &[on[0], ("x-mock-tool-call", "f {}")],
    );
    assert_eq!(tools.header("openai-organization"), Some("org-mock"));
    assert_eq!(tools.json()["system_fingerprint"], "fp_mock");
}

/// The text pieces a stream carried, in order.
fn text_pieces(api: Api, r: &Response) -> Vec<String> {
    events(r)
        .iter()
        .filter_map(|e| {
            let piece = match api {
                Api::OpenAi => e["choices"].as_array()?.first()?["delta"].get("content")?,
                Api::Anthropic => e.get("delta")?.get("text")?,
                Api::Gemini => e["candidates"][0]["content"]["parts"][0].get("text")?,
            };
            piece.as_str().filter(|p| !p.is_empty()).map(str::to_string)
        })
        .collect()
}

fn whole_text(api: Api, r: &Response) -> String {
    let v = r.json();
    let text = match api {
        Api::OpenAi => &v["choices"][0]["message"]["content"],
        Api::Anthropic => &v["content"][0]["text"],
        Api::Gemini => &v["candidates"][0]["content"]["parts"][0]["text"],
    };
    str_of(text)
}

fn chosen_text_is_cut_where_asked(driver: &str) {
    let mock = start_mock(driver);
    let text = "key sk-abc123 énd";
    for api in APIS {
        let r = request(&mock, api, false, &[("x-mock-text", text)]);
        assert_eq!(whole_text(api, &r), text, "{api:?}");
        let at = [("x-mock-text", text), ("x-mock-split-at", "7,10")];
        let r = request(&mock, api, true, &at);
        assert_eq!(
            text_pieces(api, &r),
            ["key sk-", "abc", "123 énd"],
            "{api:?}"
        );
        let equal = [("x-mock-text", "abcdef"), ("x-mock-chunks", "3")];
        let r = request(&mock, api, true, &equal);
        assert_eq!(text_pieces(api, &r), ["ab", "cd", "ef"], "{api:?}");
        // Offset 15 falls inside `é`: refused rather than moved.
        let bad = [("x-mock-text", text), ("x-mock-split-at", "15")];
        let r = request(&mock, api, true, &bad);
        assert_eq!(r.status, 400, "{api:?}");
        assert_eq!(r.error_code(), "bad_mock_header");
    }
    let tool_text = [
        ("x-mock-tool-call", "f {}"),
        ("x-mock-tool-text", "sk-secret"),
        ("x-mock-split-at", "5"),
    ];
    let r = request(&mock, Api::Anthropic, true, &tool_text);
    assert_eq!(text_pieces(Api::Anthropic, &r), ["sk-se", "cret"]);
}

on_both_drivers!(
    tool_calls_in_every_format_whole_and_streamed,
    openai_arguments_pass_through_as_written,
    object_formats_refuse_arguments_that_are_no_object,
    provider_extras_are_sent_when_asked,
    chosen_text_is_cut_where_asked,
);
