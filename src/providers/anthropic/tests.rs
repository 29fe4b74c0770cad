//! Golden tests for the Anthropic adapter, driven by the files in
//! `tests/fixtures/anthropic/`: OpenAI request → Anthropic request,
//! Anthropic response / stream / error → what the OpenAI client receives.

mod property;

use simd_json::OwnedValue;

use super::AnthropicOptions;
use super::convert::{ConvertError, build_request, map_error, parse_response};
use super::stream::{AnthropicStreamTranslator, StreamError};
use crate::api::openai::{
    ChunkContext, parse_openai_request, write_openai_chunk, write_openai_done,
    write_openai_response, write_openai_stream_error,
};
use crate::sse::{SseEvent, SseParser};

const UPSTREAM_MODEL: &str = "claude-sonnet-4-5-20250929";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(bytes: &[u8]) -> OwnedValue {
    simd_json::to_owned_value(&mut bytes.to_vec())
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn options(native_structured_output: bool) -> AnthropicOptions {
    AnthropicOptions {
        default_max_tokens: 4096,
        native_structured_output,
    }
}

fn convert(openai_body: &[u8], native: bool) -> Result<Vec<u8>, ConvertError> {
    let req = parse_openai_request(openai_body).expect("fixture request parses");
    build_request(&req, UPSTREAM_MODEL, &options(native))
}

#[test]
fn requests_translate_to_the_expected_anthropic_bodies() {
    let cases = [
        ("plain_text", true),
        ("system_prompts", true),
        ("multi_turn_tools", true),
        ("tool_choice_function", true),
        ("tool_choice_none", true),
        ("images", true),
        ("json_schema_native", true),
        ("json_schema_tool", false),
        ("json_object", true),
        ("reasoning", true),
        ("reasoning_default_max", true),
    ];
    for (name, native) in cases {
        let body = convert(&fixture(&format!("requests/{name}.openai.json")), native)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = json(&fixture(&format!("requests/{name}.anthropic.json")));
        assert_eq!(
            json(&body),
            expected,
            "{name}: got {}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn requests_anthropic_cannot_express_are_rejected_with_the_field() {
    let user = r#"{"role":"user","content":"hi"}"#;
    let cases = [
        (format!(r#"{{"model":"m","n":2,"messages":[{user}]}}"#), "n"),
        (
            format!(
                r#"{{"model":"m","messages":[{user}],"tools":[{{"type":"function","function":{{"name":"json_answer"}}}}]}}"#
            ),
            "tools[0].function.name",
        ),
        (
            format!(
                r#"{{"model":"m","messages":[{user},{{"role":"assistant","tool_calls":[{{"id":"a","type":"function","function":{{"name":"f","arguments":"{{not json"}}}}]}}]}}"#
            ),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            r#"{"model":"m","messages":[{"role":"system","content":"only a system prompt"}]}"#
                .to_owned(),
            "messages",
        ),
        (
            format!(
                r#"{{"model":"m","reasoning_effort":"high","max_tokens":1000,"messages":[{user}]}}"#
            ),
            "max_completion_tokens",
        ),
    ];
    for (body, param) in cases {
        match convert(body.as_bytes(), true) {
            Err(ConvertError::InvalidRequest { param: p, .. }) => assert_eq!(p, param, "{body}"),
            other => panic!("{body}: expected an invalid request, got {other:?}"),
        }
        let err = convert(body.as_bytes(), true).unwrap_err().to_openai();
        assert_eq!((err.status, err.param.as_deref()), (400, Some(param)));
    }
}

#[test]
fn responses_translate_to_the_expected_openai_bodies() {
    for name in [
        "text_response",
        "tool_use_response",
        "tool_only_response",
        "thinking_response",
        "json_answer_response",
        "refusal_response",
        "max_tokens_response",
    ] {
        let resp = parse_response(&fixture(&format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        write_openai_response(&resp, &mut out);
        assert_eq!(
            json(&out),
            json(&fixture(&format!("{name}.openai.json"))),
            "{name}: got {}",
            String::from_utf8_lossy(&out)
        );
    }
}

#[test]
fn unreadable_responses_are_upstream_errors() {
    let err = parse_response(b"<html>bad gateway</html>").unwrap_err();
    assert!(matches!(err, ConvertError::UpstreamBody(_)));
    assert_eq!(err.to_openai().status, 502);
}

#[test]
fn upstream_errors_map_to_openai_errors() {
    for status in [400u16, 401, 429, 500, 529] {
        let err = map_error(status, &fixture(&format!("error_{status}.json")));
        let mut body = Vec::new();
        err.write_body(&mut body);
        let expected = json(&fixture(&format!("error_{status}.openai.json")));
        assert_eq!(expected["status"], u64::from(err.status), "{status}");
        assert_eq!(json(&body), expected["body"], "{status}");
    }
    let html = map_error(502, b"<html>Bad Gateway</html>");
    assert_eq!((html.status, html.r#type.as_str()), (502, "server_error"));
    assert!(html.message.contains("Bad Gateway"), "{}", html.message);
    assert_eq!(map_error(404, b"").status, 404);
}

/// Does what the gateway core does with an upstream stream: parse SSE in
/// pieces of `piece` bytes, translate each event as it arrives, write OpenAI
/// chunks, and end with `[DONE]` or an explicit error event.
fn translate_stream(raw: &[u8], piece: usize) -> Vec<u8> {
    let ctx = ChunkContext::new("chatcmpl-test", 1700000000, "claude-test");
    let mut parser = SseParser::new();
    let mut translator = AnthropicStreamTranslator::new(true);
    let mut chunks = Vec::new();
    let mut out = Vec::new();
    for bytes in raw.chunks(piece) {
        parser.feed(bytes);
        while let Some(ev) = parser.next_event() {
            chunks.clear();
            let result = translator.on_event(&ev, &mut chunks);
            for chunk in &chunks {
                write_openai_chunk(chunk, &ctx, &mut out);
            }
            if let Err(e) = result {
                write_openai_stream_error(&e.to_openai(), &mut out);
                return out;
            }
        }
    }
    match translator.finish() {
        Ok(rest) => {
            for chunk in &rest {
                write_openai_chunk(chunk, &ctx, &mut out);
            }
            write_openai_done(&mut out);
        }
        Err(e) => write_openai_stream_error(&e.to_openai(), &mut out),
    }
    out
}

/// The `data:` payloads of an OpenAI SSE body, parsed back.
fn sse_payloads(body: &[u8]) -> Vec<Result<OwnedValue, String>> {
    let mut parser = SseParser::new();
    parser.feed(body);
    assert!(!parser.has_partial_event(), "output ends mid-event");
    std::iter::from_fn(|| parser.next_event())
        .map(|ev: SseEvent| match ev.data.as_str() {
            "[DONE]" => Err("[DONE]".to_owned()),
            data => Ok(json(data.as_bytes())),
        })
        .collect()
}

#[test]
fn streams_translate_to_the_expected_openai_chunks() {
    for name in [
        "text_stream",
        "tool_use_stream",
        "parallel_tool_use_stream",
        "thinking_stream",
        "json_answer_stream",
        "refusal_stream",
        "max_tokens_stream",
        "error_event_stream",
        "cut_stream",
        "block_index_overflow",
    ] {
        let raw = fixture(&format!("{name}.sse"));
        let expected = sse_payloads(&fixture(&format!("{name}.openai.sse")));
        // Whole, in odd-sized pieces, and byte by byte: same output.
        for piece in [raw.len(), 7, 1] {
            let got = sse_payloads(&translate_stream(&raw, piece));
            assert_eq!(
                got.len(),
                expected.len(),
                "{name} (pieces of {piece}): {got:#?}"
            );
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g, e, "{name} (pieces of {piece}) event {i}");
            }
        }
    }
}

fn feed_all(translator: &mut AnthropicStreamTranslator, raw: &[u8]) -> Result<(), StreamError> {
    let mut parser = SseParser::new();
    parser.feed(raw);
    let mut chunks = Vec::new();
    while let Some(ev) = parser.next_event() {
        translator.on_event(&ev, &mut chunks)?;
    }
    Ok(())
}

#[test]
fn a_stream_without_message_stop_is_an_error_not_a_clean_end() {
    let raw = fixture("text_stream.sse");
    let text = String::from_utf8(raw).unwrap();
    let cut_at = text.find("event: message_stop").unwrap();
    let mut translator = AnthropicStreamTranslator::new(false);
    feed_all(&mut translator, &text.as_bytes()[..cut_at]).unwrap();
    assert_eq!(translator.finish(), Err(StreamError::Truncated));
    let err = StreamError::Truncated.to_openai();
    assert_eq!(
        (err.status, err.code.as_deref()),
        (502, Some("stream_truncated"))
    );

    let mut clean = AnthropicStreamTranslator::new(false);
    feed_all(&mut clean, text.as_bytes()).unwrap();
    assert_eq!(clean.finish(), Ok(Vec::new()));
    assert_eq!(clean.message_id(), "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
    assert_eq!(clean.model(), "claude-3-opus-latest");
    assert_eq!(clean.usage().total_tokens, 17);
}

#[test]
fn an_error_event_sticks() {
    let mut translator = AnthropicStreamTranslator::new(false);
    let err = feed_all(&mut translator, &fixture("error_event_stream.sse")).unwrap_err();
    assert!(matches!(&err, StreamError::Upstream(e) if e.status == 503));
    assert_eq!(translator.finish(), Err(err));
}

#[test]
fn malformed_events_are_errors() {
    let mut translator = AnthropicStreamTranslator::new(false);
    let mut chunks = Vec::new();
    let bad = SseEvent {
        event: "content_block_delta".into(),
        data: "{not json".into(),
        id: None,
    };
    assert!(matches!(
        translator.on_event(&bad, &mut chunks),
        Err(StreamError::Malformed(_))
    ));
    let orphan = SseEvent {
        event: "content_block_delta".into(),
        data:
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}"#
                .into(),
        id: None,
    };
    let mut fresh = AnthropicStreamTranslator::new(false);
    assert!(matches!(
        fresh.on_event(&orphan, &mut chunks),
        Err(StreamError::Malformed(_))
    ));
}
