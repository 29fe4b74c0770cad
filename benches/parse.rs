//! Request-path parsing costs: `inspect` + span `rewrite_model` against the
//! naive parse-mutate-reserialize, and rendering the upstream request bytes.
//! The naive path sits next to the real one so the saving stays visible.

use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use simd_json::prelude::*;
use tollgate::api::chat::{inspect, rewrite_model};
use tollgate::canonical::json_scan::find_top_level_value;
use tollgate::providers::render_request;
use tollgate::router::Snapshot;

const UPSTREAM_MODEL: &str = "gpt-4o-2024-08-06";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:18080"
workers = 1

[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://127.0.0.1:19090/v1"

[[models]]
name = "bench-model"
provider = "mock"
upstream_model = "gpt-4o-2024-08-06"
"#;

/// About 1 KB: system prompt, a few turns, one tool definition.
fn body_1k() -> Vec<u8> {
    let body = r#"{"model":"bench-model","messages":[{"role":"system","content":"You are a concise assistant for a travel agency. Answer in plain English, cite the booking reference when you have one, and call a tool when live data is needed."},{"role":"user","content":"Hi, I need to get from Lyon to Milan next Tuesday morning."},{"role":"assistant","content":"Sure. Do you prefer the train or a flight, and is there a time you must arrive by?"},{"role":"user","content":"Train, and I must be in Milan by 2pm. Two adults, one bike."}],"tools":[{"type":"function","function":{"name":"search_trains","description":"Search scheduled trains between two stations on a date.","parameters":{"type":"object","properties":{"from":{"type":"string","description":"Departure station"},"to":{"type":"string","description":"Arrival station"},"date":{"type":"string","description":"ISO 8601 date"},"arrive_by":{"type":"string","description":"Latest arrival, HH:MM"},"passengers":{"type":"integer","minimum":1},"bikes":{"type":"integer","minimum":0}},"required":["from","to","date"]}}}],"tool_choice":"auto","temperature":0.2,"max_tokens":512,"stream":false}"#;
    body.as_bytes().to_vec()
}

/// About 100 KB: a long conversation, alternating turns with escapes and
/// non-ASCII text so the parser does real string work.
fn body_100k() -> Vec<u8> {
    let mut s = String::from(
        r#"{"model":"bench-model","messages":[{"role":"system","content":"You are a careful code reviewer. Quote the line you comment on."}"#,
    );
    let mut turn = 0usize;
    while s.len() < 100 * 1024 - 600 {
        let (role, text) = if turn.is_multiple_of(2) {
            (
                "user",
                "Here is the next hunk:\n```rust\nfn main() {\n    println!(\\\"héllo, wörld\\\");\n    let v: Vec<u32> = (0..10).collect();\n}\n```\nIs the \\\"collect\\\" needed? Also check\tthe tabs. ",
            )
        } else {
            (
                "assistant",
                "The `collect` is needed because `v` is typed `Vec<u32>`; without it you hold a `Range`. The tab is fine — rustfmt would replace it. Next, please. ",
            )
        };
        s.push_str(r#",{"role":""#);
        s.push_str(role);
        s.push_str(r#"","content":""#);
        for _ in 0..3 {
            s.push_str(&text.replace('\n', "\\n").replace('\t', "\\t"));
        }
        s.push_str(r#""}"#);
        turn += 1;
    }
    s.push_str(r#"],"temperature":0,"stream":false}"#);
    s.into_bytes()
}

/// The structure the span rewrite replaces: parse to an owned tree, read the
/// same fields, set `model`, write the whole body back out.
fn naive_inspect_rewrite(body: &[u8], model: &str) -> Vec<u8> {
    let mut copy = body.to_vec();
    let mut value = simd_json::to_owned_value(&mut copy).expect("valid body");
    let obj = value.as_object_mut().expect("object body");
    let stream = obj.get("stream").and_then(|v| v.as_bool()).unwrap_or(false);
    black_box(stream);
    obj.insert("model".into(), model.into());
    simd_json::to_vec(&value).expect("serializable")
}

/// Candidate for `find_top_level_value`: the same span, found by walking the
/// structural indexes simd-json's stage 1 already computed (one entry per
/// `{}[]:,`, string start and scalar start) instead of every byte of the body.
fn span_from_structurals(json: &[u8], idx: &[u32], key: &[u8]) -> Option<Range<usize>> {
    let at = |k: usize| idx.get(k).map(|&i| i as usize);
    if json.get(at(0)?) != Some(&b'{') {
        return None;
    }
    let mut k = 1;
    let mut found = None;
    loop {
        let key_pos = at(k)?;
        match json[key_pos] {
            b'}' => return found,
            b'"' => {}
            _ => return None,
        }
        let colon = at(k + 1)?;
        if json[colon] != b':' {
            return None;
        }
        let value_start = at(k + 2)?;
        let (mut j, mut depth) = (k + 2, 0usize);
        let end_pos = loop {
            let p = at(j)?;
            match json[p] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 0 => depth -= 1,
                b',' | b'}' if depth == 0 => break p,
                _ => {}
            }
            j += 1;
        };
        let raw_key = json[key_pos..colon].trim_ascii_end();
        if raw_key.len() == key.len() + 2 && &raw_key[1..raw_key.len() - 1] == key {
            let value = json[value_start..end_pos].trim_ascii_end();
            found = Some(value_start..value_start + value.len());
        }
        if json[end_pos] == b'}' {
            return found;
        }
        k = j + 1;
    }
}

fn structurals_of(json: &[u8]) -> Vec<u32> {
    let mut copy = json.to_vec();
    let mut buffers = simd_json::Buffers::new(json.len());
    simd_json::to_tape_with_buffers(&mut copy, &mut buffers).expect("valid JSON");
    buffers.structural_indexes().to_vec()
}

/// The candidate is only worth timing if it finds what the real scan finds.
fn assert_same_span(json: &[u8]) {
    assert_eq!(
        span_from_structurals(json, &structurals_of(json), b"model"),
        find_top_level_value(json, b"model"),
        "span mismatch for {}",
        String::from_utf8_lossy(&json[..json.len().min(120)])
    );
}

fn cases() -> [(&'static str, Vec<u8>); 2] {
    [("1k", body_1k()), ("100k", body_100k())]
}

fn bench_inspect(c: &mut Criterion) {
    let mut group = c.benchmark_group("inspect");
    for (name, body) in cases() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| inspect(black_box(body)).expect("valid body"))
        });
    }
    group.finish();
}

fn bench_inspect_rewrite(c: &mut Criterion) {
    let mut group = c.benchmark_group("inspect_rewrite");
    for (name, body) in cases() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("span", name), &body, |b, body| {
            b.iter(|| {
                let env = inspect(black_box(body)).expect("valid body");
                rewrite_model(body, &env, black_box(UPSTREAM_MODEL)).expect("plain model key")
            })
        });
        group.bench_with_input(
            BenchmarkId::new("naive_reserialize", name),
            &body,
            |b, body| b.iter(|| naive_inspect_rewrite(black_box(body), black_box(UPSTREAM_MODEL))),
        );
    }
    group.finish();
}

/// Where `inspect`'s time goes, and what a per-worker `simd_json::Buffers`
/// (reused across requests, as `scratch` already is) or the tape alone would save.
fn bench_inspect_parts(c: &mut Criterion) {
    for tricky in [
        &br#"{"messages":[{"role":"user","content":"{\"model\":\"x\"}"}], "model" : "a" ,"n":{"model":"b"}}"#[..],
        br#"{"model":"a","messages":[[1,2],{"x":[3]}],"model":"last","t":[{"model":1}]}"#,
        br#"{"stream":true,"model":{"nested":[1,{"a":"b"}]} }"#,
        br#"{"\u006dodel":"a","messages":[]}"#,
        br#"{"messages":[],"n":null}"#,
    ] {
        assert_same_span(tricky);
    }
    let mut group = c.benchmark_group("inspect_parts");
    for (name, body) in cases() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        let mut scratch = Vec::with_capacity(body.len());
        let mut buffers = simd_json::Buffers::new(body.len());
        group.bench_with_input(
            BenchmarkId::new("borrowed_value", name),
            &body,
            |b, body| {
                b.iter(|| {
                    scratch.clear();
                    scratch.extend_from_slice(black_box(body));
                    simd_json::to_borrowed_value(&mut scratch).map(|v| v.is_object())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("borrowed_value_reused_buffers", name),
            &body,
            |b, body| {
                b.iter(|| {
                    scratch.clear();
                    scratch.extend_from_slice(black_box(body));
                    simd_json::to_borrowed_value_with_buffers(&mut scratch, &mut buffers)
                        .map(|v| v.is_object())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("tape_reused_buffers", name),
            &body,
            |b, body| {
                b.iter(|| {
                    scratch.clear();
                    scratch.extend_from_slice(black_box(body));
                    simd_json::to_tape_with_buffers(&mut scratch, &mut buffers).map(|t| t.0.len())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("find_model_span", name),
            &body,
            |b, body| b.iter(|| find_top_level_value(black_box(body), b"model")),
        );
        let structurals = structurals_of(&body);
        assert_same_span(&body);
        group.bench_with_input(
            BenchmarkId::new("model_span_from_structurals", name),
            &body,
            |b, body| b.iter(|| span_from_structurals(black_box(body), &structurals, b"model")),
        );
    }
    group.finish();
}

fn bench_build_request(c: &mut Criterion) {
    let config = tollgate::config::load_str(CONFIG).expect("bench config is valid");
    let snapshot = Snapshot::build(std::sync::Arc::new(config), 1);
    let route = snapshot.model("bench-model").expect("configured model");
    let deployment = &route.deployments[0];
    let client_headers: [(&str, &[u8]); 4] = [
        ("host", b"127.0.0.1:18080"),
        ("content-type", b"application/json"),
        ("user-agent", b"wrk"),
        ("accept", b"*/*"),
    ];
    let mut group = c.benchmark_group("build_request");
    for (name, body) in cases() {
        let env = inspect(&body).expect("valid body");
        let rewritten = rewrite_model(&body, &env, &deployment.upstream_model).expect("span");
        group.throughput(Throughput::Bytes(rewritten.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &rewritten, |b, body| {
            b.iter(|| {
                render_request(
                    &deployment.provider,
                    deployment.provider.api_keys.first(),
                    deployment.chat_target(false),
                    black_box(body),
                    false,
                    "req-0123456789abcdef",
                    client_headers.iter().copied(),
                )
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_inspect, bench_inspect_rewrite, bench_inspect_parts, bench_build_request
}
criterion_main!(benches);
