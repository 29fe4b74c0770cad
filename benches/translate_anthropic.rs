//! Micro-benchmarks of the Anthropic translation hot paths: a typical 1 KB
//! request with tools, and per-event stream translation including writing
//! the OpenAI SSE chunk. The naive chunk writer (build a JSON value, then
//! serialize it) sits next to the hand-written one so the difference stays
//! visible.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::api::chat::inspect_with_span;
use tollgate::api::openai::{
    ChunkContext, parse_openai_request, write_openai_chunk, write_openai_response,
};
use tollgate::canonical::json_scan::{find_top_level_values, first_top_level_value};
use tollgate::canonical::{ChatChunk, ChunkDelta};
use tollgate::providers::anthropic::AnthropicOptions;
use tollgate::providers::anthropic::convert::{build_request, parse_response};
use tollgate::providers::anthropic::stream::AnthropicStreamTranslator;
use tollgate::sse::{SseEvent, SseParser};

const REQUEST: &[u8] = br#"{
  "model": "claude-sonnet",
  "stream": true,
  "stream_options": {"include_usage": true},
  "max_completion_tokens": 1024,
  "temperature": 0.3,
  "messages": [
    {"role": "system", "content": "You are a concise travel assistant. Prefer metric units."},
    {"role": "user", "content": "What's the weather in Paris and London right now, and what time is it there?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "toolu_01B", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"London\"}"}}]},
    {"role": "tool", "tool_call_id": "toolu_01A", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "toolu_01B", "content": "12C, light rain"},
    {"role": "user", "content": "Thanks. And the local time?"}
  ],
  "tools": [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
      "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Local time in a city.",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": true
}"#;

const OPTS: AnthropicOptions = AnthropicOptions {
    default_max_tokens: 4096,
    native_structured_output: true,
};

fn request_translation(c: &mut Criterion) {
    let parsed = parse_openai_request(REQUEST).unwrap();
    c.bench_function("openai_request_parse_1kb", |b| {
        b.iter(|| parse_openai_request(black_box(REQUEST)).unwrap())
    });
    c.bench_function("anthropic_request_build_1kb", |b| {
        b.iter(|| build_request(black_box(&parsed), "claude-sonnet-4-5", &OPTS).unwrap())
    });
    c.bench_function("openai_to_anthropic_request_1kb", |b| {
        b.iter(|| {
            let req = parse_openai_request(black_box(REQUEST)).unwrap();
            build_request(&req, "claude-sonnet-4-5", &OPTS).unwrap()
        })
    });
}

/// A typical non-streamed answer: some text, then two tool calls.
const RESPONSE: &[u8] = include_bytes!("../tests/fixtures/anthropic/tool_use_response.json");

/// Upstream answer → OpenAI body, and the whole non-streamed exchange as the
/// gateway runs it (request in and out, answer in and out).
fn response_translation(c: &mut Criterion) {
    c.bench_function("anthropic_response_parse", |b| {
        b.iter(|| parse_response(black_box(RESPONSE)).unwrap())
    });
    let parsed = parse_response(RESPONSE).unwrap();
    let mut out = Vec::with_capacity(1024);
    c.bench_function("openai_response_write", |b| {
        b.iter(|| {
            out.clear();
            write_openai_response(black_box(&parsed), &mut out);
            black_box(out.len())
        })
    });
    c.bench_function("anthropic_response_to_openai", |b| {
        b.iter(|| {
            let resp = parse_response(black_box(RESPONSE)).unwrap();
            let mut out = Vec::with_capacity(RESPONSE.len() + 256);
            write_openai_response(&resp, &mut out);
            out
        })
    });
    c.bench_function("full_exchange_non_stream_1kb", |b| {
        b.iter(|| {
            let req = parse_openai_request(black_box(REQUEST)).unwrap();
            let upstream = build_request(&req, "claude-sonnet-4-5", &OPTS).unwrap();
            let resp = parse_response(black_box(RESPONSE)).unwrap();
            let mut out = Vec::with_capacity(RESPONSE.len() + 256);
            write_openai_response(&resp, &mut out);
            (upstream, out)
        })
    });
}

/// The perf harness's request (`perf/run.sh`) and the mock's Anthropic answer
/// to it: the body work the gateway does per request on the passthrough path
/// (locate `model`, validate) next to the translated one (parse, build the
/// Anthropic body, parse the answer, write the OpenAI one). Their difference
/// is what translation adds to a request in the load run.
const HARNESS_BODY: &[u8] = include_bytes!("harness_body.json");
const HARNESS_ANSWER: &[u8] = include_bytes!("harness_anthropic_answer.json");

fn harness_body_work(c: &mut Criterion) {
    c.bench_function("harness_passthrough_body_work", |b| {
        b.iter(|| {
            let span = find_top_level_values(black_box(HARNESS_BODY), [b"model", b"metadata"]);
            let [model, _] = span.unwrap_or_default();
            inspect_with_span(HARNESS_BODY, model).unwrap()
        })
    });
    let req = parse_openai_request(HARNESS_BODY).unwrap();
    let resp = parse_response(HARNESS_ANSWER).unwrap();
    c.bench_function("harness_step_openai_parse", |b| {
        b.iter(|| parse_openai_request(black_box(HARNESS_BODY)).unwrap())
    });
    c.bench_function("harness_step_anthropic_build", |b| {
        b.iter(|| build_request(black_box(&req), "bench-model", &OPTS).unwrap())
    });
    c.bench_function("harness_step_anthropic_answer_parse", |b| {
        b.iter(|| parse_response(black_box(HARNESS_ANSWER)).unwrap())
    });
    c.bench_function("harness_step_openai_answer_write", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(HARNESS_ANSWER.len() + 256);
            write_openai_response(black_box(&resp), &mut out);
            out
        })
    });
    c.bench_function("harness_anthropic_body_work", |b| {
        b.iter(|| {
            // A translated-only route looks up `model` and reads the rest
            // off the canonical parse.
            black_box(first_top_level_value(black_box(HARNESS_BODY), b"model"));
            let req = parse_openai_request(HARNESS_BODY).unwrap();
            let upstream = build_request(&req, "bench-model", &OPTS).unwrap();
            let resp = parse_response(black_box(HARNESS_ANSWER)).unwrap();
            let mut out = Vec::with_capacity(HARNESS_ANSWER.len() + 256);
            write_openai_response(&resp, &mut out);
            (upstream, out)
        })
    });
}

fn event(name: &str, data: &str) -> SseEvent {
    SseEvent {
        event: name.into(),
        data: data.into(),
        id: None,
    }
}

/// A translator that has seen a text block (index 0) and a tool block (1).
fn primed_translator() -> AnthropicStreamTranslator {
    let mut t = AnthropicStreamTranslator::new(true);
    let mut sink = Vec::new();
    for (name, data) in [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#,
        ),
    ] {
        t.on_event(&event(name, data), &mut sink).unwrap();
    }
    t
}

fn stream_translation(c: &mut Criterion) {
    let ctx = ChunkContext::new("chatcmpl-0123456789", 1_700_000_000, "claude-sonnet");
    let text = event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there, how can I help?"}}"#,
    );
    let json = event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}"#,
    );
    for (name, ev) in [("text_delta", &text), ("input_json_delta", &json)] {
        let mut translator = primed_translator();
        let mut chunks = Vec::with_capacity(4);
        let mut out = Vec::with_capacity(512);
        c.bench_function(&format!("stream_event_{name}_to_openai_sse"), |b| {
            b.iter(|| {
                chunks.clear();
                out.clear();
                translator.on_event(black_box(ev), &mut chunks).unwrap();
                for chunk in &chunks {
                    write_openai_chunk(chunk, &ctx, &mut out);
                }
                black_box(out.len())
            })
        });
    }

    let raw = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n";
    let mut parser = SseParser::new();
    c.bench_function("sse_parse_one_event", |b| {
        b.iter(|| {
            parser.feed(black_box(raw));
            parser.next_event().unwrap()
        })
    });

    let chunk = ChatChunk::delta(ChunkDelta {
        content: Some(" there, how can I help?".into()),
        ..Default::default()
    });
    let mut out = Vec::with_capacity(512);
    c.bench_function("openai_chunk_write_handwritten", |b| {
        b.iter(|| {
            out.clear();
            write_openai_chunk(black_box(&chunk), &ctx, &mut out);
            black_box(out.len())
        })
    });
    c.bench_function("openai_chunk_write_naive_value", |b| {
        b.iter(|| {
            let value = simd_json::json!({
                "id": "chatcmpl-0123456789",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000u64,
                "model": "claude-sonnet",
                "choices": [{"index": 0, "delta": {"content": black_box(" there, how can I help?")},
                             "logprobs": null, "finish_reason": null}]
            });
            let mut bytes = b"data: ".to_vec();
            bytes.extend_from_slice(&simd_json::to_vec(&value).unwrap());
            bytes.extend_from_slice(b"\n\n");
            black_box(bytes.len())
        })
    });
}

criterion_group!(
    benches,
    request_translation,
    response_translation,
    stream_translation,
    harness_body_work
);
criterion_main!(benches);
