//! Gemini SSE stream in → exact OpenAI SSE bytes out (`<name>.sse` →
//! `<name>.openai.sse`), the way the core drives the translator: events from
//! the SSE parser (fed in small pieces), chunks through the OpenAI writer,
//! `[DONE]` after a clean end or an error event after a failure.

use super::{blessing, fixture_path, read_fixture};
use crate::api::openai::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_stream_error,
};
use crate::canonical::{ChatChunk, FinishReason};
use crate::providers::gemini::stream::{GeminiStreamTranslator, StreamError};
use crate::sse::SseParser;

/// Runs a raw stream through parser and translator; returns the chunks and
/// how the stream ended.
pub fn translate(raw: &[u8], include_usage: bool) -> (Vec<ChatChunk>, Result<(), StreamError>) {
    let mut parser = SseParser::new();
    let mut tr = GeminiStreamTranslator::new(include_usage);
    let mut chunks = Vec::new();
    for piece in raw.chunks(7) {
        parser.feed(piece);
        while let Some(ev) = parser.next_event() {
            if let Err(e) = tr.on_event(&ev, &mut chunks) {
                return (chunks, Err(e));
            }
        }
    }
    match tr.finish() {
        Ok(tail) => {
            chunks.extend(tail);
            (chunks, Ok(()))
        }
        Err(e) => (chunks, Err(e)),
    }
}

fn render(chunks: &[ChatChunk], end: &Result<(), StreamError>) -> String {
    let ctx = ChunkContext::new("chatcmpl-test", 1_700_000_000, "gemini-test");
    let mut out = Vec::new();
    for c in chunks {
        write_openai_chunk(c, &ctx, &mut out);
    }
    match end {
        Ok(()) => write_openai_done(&mut out),
        Err(e) => write_openai_stream_error(&e.to_openai(), &mut out),
    }
    String::from_utf8(out).unwrap()
}

fn check(name: &str, include_usage: bool) -> (Vec<ChatChunk>, Result<(), StreamError>) {
    let (chunks, end) = translate(&read_fixture(&format!("{name}.sse")), include_usage);
    let got = render(&chunks, &end);
    let expected = format!("{name}.openai.sse");
    if blessing() {
        std::fs::write(fixture_path(&expected), &got).unwrap();
    }
    let want = String::from_utf8(read_fixture(&expected)).unwrap();
    assert_eq!(got, want, "{name}");
    (chunks, end)
}

fn finish_of(chunks: &[ChatChunk]) -> Option<FinishReason> {
    chunks.iter().rev().find_map(|c| match c {
        ChatChunk::Delta { finish_reason, .. } => *finish_reason,
        ChatChunk::Usage(_) => None,
    })
}

#[test]
fn text_deltas_and_usage() {
    let (chunks, end) = check("text", true);
    assert!(end.is_ok());
    assert!(matches!(chunks.last(), Some(ChatChunk::Usage(u)) if u.total_tokens == 15));
}

#[test]
fn whole_function_call() {
    let (chunks, _) = check("tool_call", false);
    assert_eq!(finish_of(&chunks), Some(FinishReason::ToolCalls));
}

#[test]
fn parallel_calls_interleaved_with_text() {
    check("parallel_tools_text", true).1.unwrap();
}

#[test]
fn partial_args_are_assembled_per_call() {
    check("partial_args", true).1.unwrap();
}

#[test]
fn nested_partial_args_without_terminal_part() {
    check("partial_args_nested", false).1.unwrap();
}

#[test]
fn thoughts_stream_as_reasoning() {
    check("thinking", true).1.unwrap();
}

#[test]
fn json_answer() {
    check("json_answer", false).1.unwrap();
}

#[test]
fn safety_stop_mid_stream_is_content_filter() {
    let (chunks, end) = check("safety_midstream", false);
    assert!(end.is_ok());
    assert_eq!(finish_of(&chunks), Some(FinishReason::ContentFilter));
}

#[test]
fn blocked_prompt() {
    let (chunks, _) = check("prompt_block", true);
    assert_eq!(finish_of(&chunks), Some(FinishReason::ContentFilter));
}

#[test]
fn a_cut_stream_is_an_explicit_error() {
    let (_, end) = check("cut", true);
    assert_eq!(end, Err(StreamError::Truncated));
}

#[test]
fn an_error_object_mid_stream_keeps_its_status() {
    let (_, end) = check("error_midstream", false);
    let err = end.unwrap_err().to_openai();
    assert_eq!(err.status, 503);
    assert_eq!(err.code.as_deref(), Some("UNAVAILABLE"));
}

#[test]
fn a_malformed_chunk_fails_the_stream_and_stays_failed() {
    use crate::sse::SseEvent;
    let mut tr = GeminiStreamTranslator::new(false);
    let mut out = Vec::new();
    let bad = SseEvent {
        data: "{\"candidates\":[".into(),
        ..SseEvent::default()
    };
    let err = tr.on_event(&bad, &mut out).unwrap_err();
    assert!(matches!(err, StreamError::Malformed(_)));
    assert_eq!(err.to_openai().status, 502);
    let good = SseEvent {
        data: r#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]}"#
            .into(),
        ..SseEvent::default()
    };
    assert_eq!(tr.on_event(&good, &mut out), Err(err.clone()));
    assert_eq!(tr.finish(), Err(err));
    assert!(out.is_empty());
}

#[test]
fn an_unplaceable_partial_arg_path_is_malformed() {
    let raw = concat!(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"willContinue\":true}}]}}]}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"partialArgs\":[{\"jsonPath\":\"$\",\"boolValue\":true}]}}]}}]}\n\n",
    );
    let (_, end) = translate(raw.as_bytes(), false);
    assert!(matches!(end, Err(StreamError::Malformed(m)) if m.contains("partialArgs")));
}

#[test]
fn the_translator_reports_id_model_and_usage() {
    let mut parser = SseParser::new();
    parser.feed(&read_fixture("tool_call.sse"));
    let mut tr = GeminiStreamTranslator::new(false);
    let mut out = Vec::new();
    while let Some(ev) = parser.next_event() {
        tr.on_event(&ev, &mut out).unwrap();
    }
    assert_eq!(tr.message_id(), "b36LacjwM668nsEP2tbsgQQ");
    assert_eq!(tr.model(), "gemini-3-pro-preview");
    assert_eq!(tr.usage().reasoning_tokens, 45);
    assert_eq!(tr.finish(), Ok(Vec::new()));
}

#[test]
fn usage_without_counts_does_not_erase_the_last_counts() {
    let raw = concat!(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}],",
        "\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":1,\"totalTokenCount\":5}}\r\n\r\n",
        "data: {\"usageMetadata\":{\"trafficType\":\"ON_DEMAND\"}}\r\n\r\n",
    );
    let (chunks, end) = translate(raw.as_bytes(), true);
    end.unwrap();
    assert!(matches!(chunks.last(), Some(ChatChunk::Usage(u)) if u.total_tokens == 5));
}

#[test]
fn indexes_far_past_an_array_end_fail_the_stream() {
    // Twenty `$.kN[65536]` paths in one 2 KB event once padded 1.3 million
    // nulls (found by the gemini-stream fuzzer's memory oracle).
    let (_, end) = check("partial_args_padding", false);
    assert!(matches!(end, Err(StreamError::Malformed(_))), "{end:?}");
}
