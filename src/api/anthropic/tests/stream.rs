//! The recorded Anthropic streams through the provider's translator into
//! canonical chunks and back out through the dialect's writer: the client
//! sees the same blocks (types, indices, contents), stop reason and usage.

use simd_json::OwnedValue;
use simd_json::prelude::*;

use super::{fixture, json};
use crate::api::ApiError;
use crate::api::anthropic::{AnthropicStreamWriter, message_response};
use crate::canonical::{ChatChunk, ChunkDelta, FinishReason, StreamError, ToolCallDelta, Usage};
use crate::providers::anthropic::convert::parse_response;
use crate::providers::anthropic::stream::AnthropicStreamTranslator;
use crate::providers::gemini::stream::GeminiStreamTranslator;
use crate::sse::{SseEvent, SseParser};

fn events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    parser.feed(bytes);
    std::iter::from_fn(|| parser.next_event()).collect()
}

/// A provider's stream translator, as the route drives it.
trait Translator {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError>;
    fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError>;
    fn usage(&self) -> Usage;
}

macro_rules! translator {
    ($t:ty) => {
        impl Translator for $t {
            fn on_event(
                &mut self,
                ev: &SseEvent,
                out: &mut Vec<ChatChunk>,
            ) -> Result<(), StreamError> {
                <$t>::on_event(self, ev, out)
            }
            fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
                <$t>::finish(self)
            }
            fn usage(&self) -> Usage {
                <$t>::usage(self)
            }
        }
    };
}

translator!(AnthropicStreamTranslator);
translator!(GeminiStreamTranslator);

/// Upstream stream bytes → what the Anthropic client receives.
fn relay(upstream: &[u8]) -> Vec<u8> {
    relay_with(AnthropicStreamTranslator::new(true), upstream)
}

fn relay_with(mut translator: impl Translator, upstream: &[u8]) -> Vec<u8> {
    let mut writer = AnthropicStreamWriter::new("msg_gw", "claude-sonnet-4-5-20250929");
    let mut out = Vec::new();
    let mut chunks = Vec::new();
    for ev in events(upstream) {
        chunks.clear();
        let result = translator.on_event(&ev, &mut chunks);
        writer.set_usage(translator.usage());
        for chunk in &chunks {
            writer.write_chunk(chunk, &mut out);
        }
        if let Err(e) = result {
            writer.write_stream_error(&e, &mut out);
            return out;
        }
    }
    match translator.finish() {
        Ok(last) => {
            for chunk in &last {
                writer.write_chunk(chunk, &mut out);
            }
            writer.finish(&mut out);
        }
        Err(e) => writer.write_stream_error(&e, &mut out),
    }
    out
}

/// What a client accumulates from a stream: each block as
/// `(index, type, text)` where the text is the block's deltas joined (tool
/// input parsed, so `{}` and an empty input compare equal), the stop
/// reason, and the usage after `message_delta` merged over `message_start`.
#[derive(Debug, PartialEq)]
struct Summary {
    blocks: Vec<(u64, String, String)>,
    stop_reason: Option<String>,
    usage: [u64; 4],
}

fn summarize(bytes: &[u8]) -> Summary {
    let mut blocks: Vec<(u64, String, String)> = Vec::new();
    let mut stop_reason = None;
    let mut usage = [0u64; 4];
    let mut merge = |u: &OwnedValue| {
        let keys = [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        ];
        for (slot, key) in usage.iter_mut().zip(keys) {
            if let Some(n) = u.get(key).and_then(|n| n.as_u64()) {
                *slot = n;
            }
        }
    };
    for ev in events(bytes) {
        let data = json(ev.data.as_bytes());
        assert_eq!(data.get_str("type"), Some(ev.event.as_str()), "{}", ev.data);
        match ev.event.as_str() {
            "message_start" => merge(&data["message"]["usage"]),
            "content_block_start" => {
                let block = &data["content_block"];
                let text = block
                    .get_str("text")
                    .or(block.get_str("data"))
                    .unwrap_or_default();
                blocks.push((
                    data.get_u64("index").expect("index"),
                    block.get_str("type").expect("type").to_owned(),
                    text.to_owned(),
                ));
            }
            "content_block_delta" => {
                let last = blocks.last_mut().expect("a delta inside a block");
                assert_eq!(
                    Some(last.0),
                    data.get_u64("index"),
                    "delta for the open block"
                );
                let delta = &data["delta"];
                for key in ["text", "partial_json", "thinking", "signature"] {
                    if let Some(s) = delta.get_str(key) {
                        last.2.push_str(s);
                    }
                }
            }
            "message_delta" => {
                stop_reason = data["delta"].get_str("stop_reason").map(str::to_owned);
                merge(&data["usage"]);
            }
            _ => {}
        }
    }
    for block in &mut blocks {
        if block.1 == "tool_use" {
            // A call cut by max_tokens has unparseable input: compared raw.
            let input = if block.2.is_empty() { "{}" } else { &block.2 };
            if let Ok(value) = simd_json::to_owned_value(&mut input.as_bytes().to_vec()) {
                block.2 = value.encode();
            }
        }
    }
    Summary {
        blocks,
        stop_reason,
        usage,
    }
}

fn event_names(bytes: &[u8]) -> Vec<String> {
    events(bytes).into_iter().map(|e| e.event).collect()
}

/// The grammar: start, ping, blocks opened and closed one at a time with
/// consecutive indices, then message_delta and message_stop.
fn assert_grammar(bytes: &[u8]) {
    let names = event_names(bytes);
    assert_eq!(names[..2], ["message_start", "ping"]);
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    let mut open: Option<u64> = None;
    let mut next = 0;
    for ev in events(bytes) {
        let data = json(ev.data.as_bytes());
        match ev.event.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block opened while another is open");
                assert_eq!(data.get_u64("index"), Some(next));
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => assert_eq!(data.get_u64("index"), open),
            "content_block_stop" => assert_eq!(data.get_u64("index"), open.take()),
            _ => {}
        }
    }
    assert_eq!(open, None);
}

#[test]
fn recorded_streams_come_back_in_the_same_grammar() {
    for name in [
        "text",
        "tool_use",
        "parallel_tool_use",
        "thinking",
        "max_tokens",
        "refusal",
    ] {
        let upstream = fixture(&format!("{name}_stream.sse"));
        let relayed = relay(&upstream);
        assert_grammar(&relayed);
        let (want, got) = (summarize(&upstream), summarize(&relayed));
        // An empty text block carries nothing the client can see; the
        // canonical stream has no trace of it.
        let want_blocks: Vec<_> = want
            .blocks
            .iter()
            .filter(|b| !(b.1 == "text" && b.2.is_empty()))
            .enumerate()
            .map(|(i, b)| (i as u64, b.1.clone(), b.2.clone()))
            .collect();
        assert_eq!(got.blocks, want_blocks, "{name}");
        assert_eq!(got.stop_reason, want.stop_reason, "{name}");
        assert_eq!(got.usage, want.usage, "{name}");
    }
}

#[test]
fn an_upstream_error_mid_stream_ends_in_an_error_event() {
    for (name, kind) in [
        ("error_event_stream.sse", "overloaded_error"),
        ("cut_stream.sse", "api_error"),
    ] {
        let relayed = relay(&fixture(name));
        let all = events(&relayed);
        let last = all.last().expect("events");
        assert_eq!(last.event, "error", "{name}");
        let data = json(last.data.as_bytes());
        assert_eq!(data["error"].get_str("type"), Some(kind), "{name}");
        assert!(
            data["error"]
                .get_str("message")
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            !event_names(&relayed).iter().any(|n| n == "message_stop"),
            "{name}"
        );
    }
}

#[test]
fn nothing_follows_an_error() {
    let mut writer = AnthropicStreamWriter::new("abc", "m");
    let mut out = Vec::new();
    writer.write_chunk(&text("partial"), &mut out);
    writer.write_error(&ApiError::new(503, "server_error", "overloaded"), &mut out);
    let len = out.len();
    writer.write_chunk(&text("more"), &mut out);
    writer.finish(&mut out);
    assert_eq!(out.len(), len);
    assert!(writer.is_ended());
    let start = json(events(&out)[0].data.as_bytes());
    assert_eq!(start["message"].get_str("id"), Some("msg_abc"));
}

fn text(s: &str) -> ChatChunk {
    ChatChunk::delta(ChunkDelta {
        content: Some(s.into()),
        ..Default::default()
    })
}

fn call(index: u32, id: Option<&str>, args: &str) -> ChatChunk {
    ChatChunk::delta(ChunkDelta {
        tool_call: Some(ToolCallDelta {
            index,
            id: id.map(str::to_owned),
            name: id.map(|_| "f".to_owned()),
            arguments: args.into(),
        }),
        ..Default::default()
    })
}

/// OpenAI-format chunks (text, then two calls streamed one after the
/// other, usage last) as Anthropic blocks, with Anthropic's usage rule.
#[test]
fn openai_shaped_chunks_become_blocks() {
    let mut writer = AnthropicStreamWriter::new("chatcmpl-1", "gpt-4o");
    let mut out = Vec::new();
    for chunk in [
        text("Checking."),
        call(0, Some("call_a"), ""),
        call(0, None, "{\"x\":"),
        call(0, None, "1}"),
        call(1, Some("call_b"), "{}"),
        ChatChunk::finish(FinishReason::ToolCalls),
        ChatChunk::Usage(Usage {
            prompt_tokens: 100,
            completion_tokens: 9,
            total_tokens: 109,
            cached_prompt_tokens: 60,
            cache_creation_tokens: 0,
            reasoning_tokens: 0,
        }),
    ] {
        writer.write_chunk(&chunk, &mut out);
    }
    writer.finish(&mut out);
    assert_grammar(&out);
    let got = summarize(&out);
    assert_eq!(
        got.blocks,
        [
            (0, "text".into(), "Checking.".into()),
            (1, "tool_use".into(), r#"{"x":1}"#.into()),
            (2, "tool_use".into(), "{}".into()),
        ]
    );
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(got.usage, [40, 0, 60, 9]);
    // Arguments for a call whose block closed cannot be placed: an error,
    // never a silently misplaced fragment.
    let mut writer = AnthropicStreamWriter::new("x", "m");
    let mut out = Vec::new();
    for chunk in [
        call(0, Some("a"), ""),
        call(1, Some("b"), ""),
        call(0, None, "{}"),
    ] {
        writer.write_chunk(&chunk, &mut out);
    }
    writer.finish(&mut out);
    assert_eq!(event_names(&out).last().map(String::as_str), Some("error"));
}

/// Whole answers: the provider's parse of each recorded answer, written as
/// the message object, has the recorded content, stop reason and usage.
#[test]
fn recorded_answers_come_back_as_the_same_message() {
    for name in [
        "text",
        "tool_use",
        "tool_only",
        "thinking",
        "max_tokens",
        "refusal",
    ] {
        let recorded = json(&fixture(&format!("{name}_response.json")));
        let resp = parse_response(&fixture(&format!("{name}_response.json"))).expect(name);
        let got = json(&message_response(&resp));
        for key in ["id", "type", "role", "model", "stop_reason", "content"] {
            assert_eq!(got[key], recorded[key], "{name}: {key}");
        }
        for key in [
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ] {
            let want = recorded["usage"].get_u64(key).unwrap_or(0);
            assert_eq!(got["usage"].get_u64(key), Some(want), "{name}: usage.{key}");
        }
    }
}

/// Gemini's recorded streams (another provider's translator, another
/// chunk rhythm) keep the grammar: a clean answer has every block opened
/// and closed in order, one block per tool call and the text it streamed;
/// a failed one ends in an error event and never in `message_stop`.
#[test]
fn gemini_streams_keep_the_grammar() {
    for name in [
        "text",
        "thinking",
        "tool_call",
        "parallel_tools_text",
        "partial_args",
        "partial_args_nested",
        "json_answer",
        "safety_midstream",
        "prompt_block",
        "error_midstream",
        "cut",
    ] {
        let gemini_path = format!(
            "{}/tests/fixtures/gemini/{name}.sse",
            env!("CARGO_MANIFEST_DIR")
        );
        let upstream = std::fs::read(&gemini_path).expect("fixture");
        let relayed = relay_with(GeminiStreamTranslator::new(true), &upstream);
        let names = event_names(&relayed);
        if names.last().map(String::as_str) == Some("error") {
            assert!(!names.iter().any(|n| n == "message_stop"), "{name}");
            continue;
        }
        assert_grammar(&relayed);
        // What the OpenAI client gets from the same stream, for comparison.
        let openai_path = gemini_path.replace(".sse", ".openai.sse");
        let Ok(openai) = std::fs::read(&openai_path) else {
            continue;
        };
        let (mut text, mut calls) = (String::new(), 0);
        for ev in events(&openai) {
            if ev.data == "[DONE]" {
                continue;
            }
            let data = json(ev.data.as_bytes());
            let Some(delta) = data
                .get("choices")
                .and_then(|c| c.as_array())
                .and_then(|c| c.first())
                .and_then(|c| c.get("delta"))
            else {
                continue;
            };
            text.push_str(delta.get_str("content").unwrap_or_default());
            if let Some(tools) = delta.get("tool_calls").and_then(|t| t.as_array()) {
                calls += tools.iter().filter(|t| t.get_str("id").is_some()).count();
            }
        }
        let got = summarize(&relayed);
        let got_text: String = got
            .blocks
            .iter()
            .filter(|b| b.1 == "text")
            .map(|b| b.2.as_str())
            .collect();
        assert_eq!(got_text, text, "{name}");
        assert_eq!(
            got.blocks.iter().filter(|b| b.1 == "tool_use").count(),
            calls,
            "{name}"
        );
    }
}
