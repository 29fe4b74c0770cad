//! The stream translator: every recorded OpenAI-format stream in
//! `tests/fixtures/*/*.openai.sse` goes OpenAI → canonical → OpenAI back to
//! the same bytes, and streams in the shapes real servers send (OpenAI's
//! null members, parallel tool calls, DeepSeek's reasoning and usage on the
//! last choice chunk, whole calls without indexes) come out as the
//! canonical chunk rules say.

use super::{events, fixture_files};
use crate::api::openai::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_stream_error,
};
use crate::canonical::{ChatChunk, ChunkDelta, FinishReason, Role, StreamError, ToolCallDelta};
use crate::providers::openai::OpenAiStreamTranslator;

/// Runs a whole stream through a translator: the chunks, and how it ended.
fn translate(
    body: &str,
    include_usage: bool,
) -> (
    OpenAiStreamTranslator,
    Vec<ChatChunk>,
    Result<(), StreamError>,
) {
    let mut t = OpenAiStreamTranslator::new(include_usage);
    let mut chunks = Vec::new();
    for ev in events(body) {
        if let Err(e) = t.on_event(&ev, &mut chunks) {
            return (t, chunks, Err(e));
        }
    }
    let end = t.finish().map(|rest| chunks.extend(rest));
    (t, chunks, end)
}

#[test]
fn recorded_streams_come_back_byte_for_byte() {
    let mut seen = 0;
    for (name, body) in fixture_files(".openai.sse") {
        let include_usage = body.contains("\"choices\":[]");
        let (t, chunks, end) = translate(&body, include_usage);
        let ctx = ChunkContext::new(t.message_id(), 1_700_000_000, t.model());
        let mut out = Vec::new();
        for chunk in &chunks {
            write_openai_chunk(chunk, &ctx, &mut out);
        }
        match end {
            Ok(()) => write_openai_done(&mut out),
            Err(e) => write_openai_stream_error(&e.to_openai(), &mut out),
        }
        assert_eq!(String::from_utf8_lossy(&out), body, "{name}");
        seen += 1;
    }
    assert!(seen >= 15, "only {seen} fixtures");
}

/// OpenAI's own shape: every member present, nulls included, two calls.
pub(super) const PARALLEL_TOOLS: &str = concat!(
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":null,"tool_calls":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":80,"completion_tokens":30,"total_tokens":110,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#,
    "\n\ndata: [DONE]\n\n",
);

fn call(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> ChatChunk {
    ChatChunk::delta(ChunkDelta {
        tool_call: Some(ToolCallDelta {
            index,
            id: id.map(Into::into),
            name: name.map(Into::into),
            arguments: arguments.into(),
        }),
        ..Default::default()
    })
}

fn role() -> ChatChunk {
    ChatChunk::delta(ChunkDelta {
        role: Some(Role::Assistant),
        content: Some(String::new()),
        ..Default::default()
    })
}

#[test]
fn parallel_tool_calls_keep_their_indexes_and_usage_ends_the_stream() {
    let (t, chunks, end) = translate(PARALLEL_TOOLS, true);
    end.expect("a clean end");
    assert_eq!(t.message_id(), "chatcmpl-1");
    assert_eq!(t.model(), "gpt-4.1");
    let usage = t.usage();
    assert_eq!((usage.prompt_tokens, usage.cached_prompt_tokens), (80, 64));
    assert_eq!(
        chunks,
        vec![
            role(),
            call(0, Some("call_a"), Some("get_weather"), ""),
            call(0, None, None, "{\"city\":"),
            call(1, Some("call_b"), Some("get_time"), "{}"),
            call(0, None, None, "\"Paris\"}"),
            ChatChunk::finish(FinishReason::ToolCalls),
            ChatChunk::Usage(usage),
        ]
    );
    // Without include_usage the usage is known but not sent.
    let (t, chunks, _) = translate(PARALLEL_TOOLS, false);
    assert_eq!(t.usage(), usage);
    assert!(!chunks.iter().any(|c| matches!(c, ChatChunk::Usage(_))));
}

#[test]
fn reasoning_content_and_usage_on_the_last_choice_chunk() {
    // DeepSeek: reasoning_content deltas, usage on the finishing chunk.
    let body = concat!(
        r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Think"},"logprobs":null,"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"Hi","reasoning_content":null},"logprobs":null,"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":15},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":10}}"#,
        "\n\ndata: [DONE]\n\n",
    );
    let (t, chunks, end) = translate(body, true);
    end.expect("a clean end");
    let usage = t.usage();
    assert_eq!((usage.completion_tokens, usage.reasoning_tokens), (20, 15));
    let text = |content: Option<&str>, reasoning: Option<&str>| {
        ChatChunk::delta(ChunkDelta {
            content: content.map(Into::into),
            reasoning: reasoning.map(Into::into),
            ..Default::default()
        })
    };
    assert_eq!(
        chunks,
        vec![
            role(),
            text(None, Some("Think")),
            text(Some("Hi"), None),
            ChatChunk::finish(FinishReason::Length),
            ChatChunk::Usage(usage),
        ]
    );
}

#[test]
fn whole_calls_without_index_or_id_still_get_their_own_slots() {
    // Two whole calls in one delta, both at index 0 (seen from some
    // compatible servers), then a call with neither index nor id.
    let body = concat!(
        r#"data: {"id":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"A","function":{"name":"f","arguments":"{}"}},{"index":0,"id":"B","function":{"name":"g","arguments":{"x":1}}}]},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"m","choices":[{"index":0,"delta":{"tool_calls":[{"function":{"name":"h","arguments":"{"}}]},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"m","choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"}"}}]},"finish_reason":"tool_calls"}]}"#,
        "\n\ndata: [DONE]\n\n",
    );
    let (_, chunks, end) = translate(body, false);
    end.expect("a clean end");
    assert_eq!(
        chunks,
        vec![
            role(),
            call(0, Some("A"), Some("f"), "{}"),
            call(1, Some("B"), Some("g"), "{\"x\":1}"),
            call(2, Some("call_0_2"), Some("h"), "{"),
            call(2, None, None, "}"),
            ChatChunk::finish(FinishReason::ToolCalls),
        ]
    );
}

#[test]
fn a_stream_without_its_end_is_an_error() {
    let first_events: String = PARALLEL_TOOLS.split_inclusive("\n\n").take(3).collect();
    let no_done = PARALLEL_TOOLS.trim_end_matches("data: [DONE]\n\n");
    let done_without_finish = format!("{first_events}data: [DONE]\n\n");
    for body in [first_events.as_str(), no_done, &done_without_finish] {
        let (mut t, _, end) = translate(body, true);
        assert_eq!(end, Err(StreamError::Truncated), "{body}");
        // A failed stream stays failed.
        assert_eq!(t.finish(), Err(StreamError::Truncated));
    }
}

#[test]
fn error_events_and_bad_chunks_end_the_stream_with_an_error() {
    let head: String = PARALLEL_TOOLS.split_inclusive("\n\n").take(2).collect();
    let error = format!(
        "{head}data: {{\"error\":{{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}}}\n\n"
    );
    let (_, _, end) = translate(&error, false);
    match end {
        Err(StreamError::Upstream(e)) => {
            assert_eq!(
                (e.message.as_str(), e.r#type.as_str()),
                ("Overloaded", "server_error")
            );
            assert_eq!(e.code.as_deref(), Some("overloaded"));
        }
        other => panic!("{other:?}"),
    }
    // vLLM's older shape, under an `event: error` line.
    let (_, _, end) = translate(
        "event: error\ndata: {\"object\":\"error\",\"message\":\"boom\",\"type\":\"BadRequestError\",\"code\":400}\n\n",
        false,
    );
    assert!(
        matches!(&end, Err(StreamError::Upstream(e)) if e.message == "boom" && e.code.as_deref() == Some("400")),
        "{end:?}"
    );
    let (_, _, end) = translate("data: {\"choices\":[{\"index\":0,\n\n", false);
    assert!(matches!(end, Err(StreamError::Malformed(_))), "{end:?}");
}
