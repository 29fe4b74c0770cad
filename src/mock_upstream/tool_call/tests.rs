use super::*;
use crate::mock_upstream::formats::Format;
use simd_json::prelude::*;

fn plan(stream: bool) -> EchoPlan {
    EchoPlan {
        model: "m".into(),
        text: String::new(),
        stream,
        include_usage: true,
        prompt_tokens: 5,
    }
}

fn answer(text: &str, calls: &[(&str, &str)]) -> ToolAnswer {
    ToolAnswer {
        text: text.into(),
        calls: calls
            .iter()
            .map(|(n, a)| ToolCall {
                name: n.to_string(),
                arguments: a.to_string(),
            })
            .collect(),
        arg_pieces: 3,
    }
}

fn json(bytes: &[u8]) -> simd_json::OwnedValue {
    let mut b = bytes.to_vec();
    simd_json::to_owned_value(&mut b)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn data(event: &[u8]) -> simd_json::OwnedValue {
    let text = String::from_utf8_lossy(event);
    let line = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    json(line.as_bytes())
}

#[test]
fn parses_name_and_arguments_at_the_first_space() {
    let table = [
        (
            "lookup {\"q\": \"a b\"}",
            Some(("lookup", "{\"q\": \"a b\"}")),
        ),
        ("bare", Some(("bare", "{}"))),
        ("f not json", Some(("f", "not json"))),
        ("", None),
        (" {}", None),
    ];
    for (value, want) in table {
        let got = ToolCall::parse(value.as_bytes()).ok();
        let want = want.map(|(n, a)| ToolCall {
            name: n.into(),
            arguments: a.into(),
        });
        assert_eq!(got, want, "{value:?}");
    }
    assert!(ToolCall::parse(b"f \xff").is_err());
}

#[test]
fn only_objects_are_spliced_as_objects() {
    let table = [
        ("{\"a\":1,\"a\":2}", true),
        (" { } ", true),
        ("[1]", false),
        ("{\"a\":", false),
        ("", false),
    ];
    for (args, ok) in table {
        let call = ToolCall {
            name: "f".into(),
            arguments: args.into(),
        };
        assert_eq!(call.object().is_ok(), ok, "{args:?}");
    }
}

#[test]
fn openai_body_keeps_arguments_byte_exact() {
    let a = answer("", &[("f", "{\"a\":1,\"a\":2"), ("g", "{}")]);
    let body = a.body(Format::OpenAi, &plan(false), "id", false).unwrap();
    let v = json(&body);
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], simd_json::OwnedValue::null());
    let calls = &choice["message"]["tool_calls"];
    assert_eq!(calls[0]["id"], "call_0");
    assert_eq!(calls[0]["function"]["arguments"], "{\"a\":1,\"a\":2");
    assert_eq!(calls[1]["function"]["name"], "g");
}

#[test]
fn openai_stream_spans_several_events_and_reassembles() {
    let a = answer("hi", &[("f", "{\"city\":\"Paris\"}")]);
    let events = a
        .events(Format::OpenAi, &plan(true), "id", &["h", "i"], true)
        .unwrap();
    let mut args = String::new();
    let mut fragments = 0;
    for ev in &events[..events.len() - 1] {
        let v = data(ev);
        assert_eq!(v["system_fingerprint"], "fp_mock");
        let Some(call) = v["choices"]
            .get_idx(0)
            .and_then(|c| c["delta"].get("tool_calls"))
        else {
            continue;
        };
        if let Some(name) = call[0]["function"].get("name") {
            assert_eq!(name, "f");
            assert_eq!(call[0]["id"], "call_0");
        }
        let piece = call[0]["function"]["arguments"].as_str().unwrap();
        fragments += usize::from(!piece.is_empty());
        args.push_str(piece);
    }
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert_eq!(fragments, 3);
    assert_eq!(events.last().unwrap(), b"data: [DONE]\n\n");
}

#[test]
fn anthropic_body_splices_the_raw_object() {
    let a = answer("t", &[("f", "{\"a\":1,\"a\":2}")]);
    let body = a
        .body(Format::Anthropic, &plan(false), "id", false)
        .unwrap();
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.contains("\"input\":{\"a\":1,\"a\":2}"), "{text}");
    let v = json(&body);
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"][0]["text"], "t");
    assert_eq!(v["content"][1]["id"], "toolu_0");
    let refused = answer("", &[("f", "[1]")]);
    assert!(
        refused
            .body(Format::Anthropic, &plan(false), "id", false)
            .is_err()
    );
}

#[test]
fn anthropic_stream_carries_even_invalid_json_in_pieces() {
    let a = answer("", &[("f", "{\"a\":")]);
    let events = a
        .events(Format::Anthropic, &plan(true), "id", &[], false)
        .unwrap();
    let kinds: Vec<String> = events.iter().map(|e| data(e)["type"].to_string()).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let json: String = events
        .iter()
        .map(|e| data(e))
        .filter_map(|v| {
            v.get("delta")?
                .get("partial_json")?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(json, "{\"a\":");
    assert_eq!(data(&events[8])["delta"]["stop_reason"], "tool_use");
}

#[test]
fn gemini_sends_calls_whole_in_the_last_chunk() {
    let a = answer("ab", &[("f", "{\"x\":[1]}"), ("g", "{}")]);
    let events = a
        .events(
            Format::Gemini { stream: true },
            &plan(true),
            "id",
            &["a", "b"],
            false,
        )
        .unwrap();
    assert_eq!(events.len(), 3);
    let last = data(&events[2]);
    let candidate = &last["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(
        candidate["content"]["parts"][0]["functionCall"]["name"],
        "f"
    );
    assert_eq!(
        candidate["content"]["parts"][1]["functionCall"]["args"],
        json(b"{}")
    );
    let body = a
        .body(Format::Gemini { stream: false }, &plan(false), "id", false)
        .unwrap();
    assert_eq!(
        json(&body)["candidates"][0]["content"]["parts"][0]["text"],
        "ab"
    );
}
