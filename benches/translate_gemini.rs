//! Gemini adapter micro-benchmarks: canonical → Gemini request body (a ~1 KB
//! request with tools), and per-chunk stream translation including writing
//! the OpenAI SSE chunk. The tape-vs-DOM pair shows what reading stream
//! chunks off simd-json's tape into wire structs saves over a generic JSON tree.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::api::openai::{ChunkContext, parse_openai_request, write_openai_chunk};
use tollgate::providers::gemini::convert::{GeminiOptions, build_request};
use tollgate::providers::gemini::read::read_response;
use tollgate::providers::gemini::stream::GeminiStreamTranslator;
use tollgate::sse::SseEvent;

const REQUEST: &str = r#"{"model":"gemini-2.5-flash","temperature":0.3,"max_tokens":512,
"messages":[
 {"role":"system","content":"You are a travel assistant. Be concise and cite the tools you used."},
 {"role":"user","content":"What's the weather in Paris and Tokyo right now, and what time is it there?"},
 {"role":"assistant","content":null,"tool_calls":[
  {"id":"call_00000000000000aasQUJDRA","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
  {"id":"call_00000000000000bb","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}}]},
 {"role":"tool","tool_call_id":"call_00000000000000aasQUJDRA","content":"{\"temp_c\":18,\"sky\":\"cloudy\"}"},
 {"role":"tool","tool_call_id":"call_00000000000000bb","content":"25C and sunny"},
 {"role":"user","content":"Great, and the local times?"}],
"tools":[
 {"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
  "parameters":{"type":"object","properties":{"city":{"type":"string"},"units":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}},
 {"type":"function","function":{"name":"get_time","description":"Local time in a city",
  "parameters":{"type":"object","properties":{"city":{"type":"string"},"format":{"type":"string","enum":["12h","24h"]}},"required":["city"]}}}],
"tool_choice":"auto"}"#;

const TEXT_CHUNK: &str = r#"{"candidates":[{"content":{"parts":[{"text":" of France is Paris, a city known for its museums."}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":8,"totalTokenCount":15},"modelVersion":"gemini-2.5-flash","responseId":"st-1"}"#;

const CALL_CHUNK: &str = r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris","units":"celsius"}},"thoughtSignature":"EqUCCqICAb4+9vsh8Pd5taZVoPzSvjWWwzBrvhEQWBLCGa7IdY8FBMm7Z6dCKFU3Ft0la15gF7RaHe1NlPRygQec0bFwPDfMwGcUOMNiJiNIKxusCs4ejCZRuouNYQ4etEIt7CujEUHiILLfZXSJZYhs4UCrD2bLqPq0sE0l"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":29,"candidatesTokenCount":15,"totalTokenCount":89,"thoughtsTokenCount":45},"modelVersion":"gemini-3-pro-preview","responseId":"b36LacjwM668nsEP2tbsgQQ"}"#;

fn request(c: &mut Criterion) {
    let req = parse_openai_request(REQUEST.as_bytes()).unwrap();
    let opts = GeminiOptions::for_model("gemini-2.5-flash");
    c.bench_function("gemini/request/build_1kb_tools", |b| {
        b.iter(|| build_request(black_box(&req), &opts).unwrap())
    });
    c.bench_function("gemini/request/parse_openai_and_build_1kb_tools", |b| {
        b.iter(|| {
            let req = parse_openai_request(black_box(REQUEST.as_bytes())).unwrap();
            build_request(&req, &opts).unwrap()
        })
    });
}

fn stream_chunk(c: &mut Criterion, name: &str, data: &str) {
    let ev = SseEvent {
        data: data.to_owned(),
        ..SseEvent::default()
    };
    let ctx = ChunkContext::new(
        "chatcmpl-b36LacjwM668nsEP2tbsgQQ",
        1_700_000_000,
        "gemini-x",
    );
    let mut tr = GeminiStreamTranslator::new(true);
    let mut chunks = Vec::with_capacity(4);
    let mut out = Vec::with_capacity(4096);
    c.bench_function(name, |b| {
        b.iter(|| {
            chunks.clear();
            out.clear();
            tr.on_event(black_box(&ev), &mut chunks).unwrap();
            for ch in &chunks {
                write_openai_chunk(ch, &ctx, &mut out);
            }
            black_box(out.len())
        })
    });
}

fn stream(c: &mut Criterion) {
    stream_chunk(c, "gemini/stream/text_chunk_to_openai_sse", TEXT_CHUNK);
    stream_chunk(
        c,
        "gemini/stream/function_call_chunk_to_openai_sse",
        CALL_CHUNK,
    );
    let mut buf = Vec::with_capacity(1024);
    c.bench_function("gemini/stream/parse_chunk_tape", |b| {
        b.iter(|| {
            let r = read_response(black_box(CALL_CHUNK.as_bytes())).unwrap();
            black_box(r.candidates.len())
        })
    });
    c.bench_function("gemini/stream/parse_chunk_dom", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(CALL_CHUNK.as_bytes());
            black_box(simd_json::to_owned_value(&mut buf).unwrap())
        })
    });
}

criterion_group!(benches, request, stream);
criterion_main!(benches);
