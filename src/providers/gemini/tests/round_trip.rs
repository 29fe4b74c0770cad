//! Thought signatures survive a full turn: Gemini answer → OpenAI tool calls
//! → the client echoes only standard fields → next Gemini request carries
//! the signature on the right `functionCall` part.

use simd_json::prelude::*;

use super::stream_golden::translate;
use super::{json, read_fixture};
use crate::api::openai::parse_openai_request;
use crate::canonical::{ChatChunk, ToolCall};
use crate::providers::gemini::convert::{GeminiOptions, build_request, parse_response};

/// The signature Gemini put on the first part of `fixture`.
fn first_signature(fixture: &str) -> String {
    let raw = String::from_utf8(read_fixture(fixture)).unwrap();
    let start = raw.find("\"thoughtSignature\":").unwrap() + 19;
    let rest = raw[start..].trim_start();
    let rest = &rest[1..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Sends `calls` back as a client would (assistant turn + one tool result
/// each) and returns the Gemini body.
fn next_turn(calls: &[ToolCall], model: &str) -> simd_json::OwnedValue {
    let mut tool_calls = Vec::new();
    let mut results = Vec::new();
    for c in calls {
        tool_calls.push(format!(
            r#"{{"id":{id},"type":"function","function":{{"name":{name},"arguments":{args}}}}}"#,
            id = simd_json::to_string(&c.id).unwrap(),
            name = simd_json::to_string(&c.name).unwrap(),
            args = simd_json::to_string(&c.arguments).unwrap(),
        ));
        results.push(format!(
            r#"{{"role":"tool","tool_call_id":{},"content":"sunny"}}"#,
            simd_json::to_string(&c.id).unwrap()
        ));
    }
    let body = format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"weather?"}},
        {{"role":"assistant","content":null,"tool_calls":[{}]}},{}]}}"#,
        tool_calls.join(","),
        results.join(",")
    );
    let req = parse_openai_request(body.as_bytes()).unwrap();
    json(&build_request(&req, &GeminiOptions::for_model(model)).unwrap())
}

#[test]
fn signature_round_trips_through_a_non_streamed_answer() {
    let resp = parse_response(&read_fixture("tool_call.json")).unwrap();
    let calls = &resp.choices[0].message.tool_calls;
    assert_eq!(calls[0].name, "weather");
    assert_eq!(calls[0].arguments, r#"{"location":"San Francisco"}"#);
    let body = next_turn(calls, "gemini-3-pro-preview");
    let model_turn = &body["contents"][1];
    assert_eq!(model_turn["role"], "model");
    let part = &model_turn["parts"][0];
    assert_eq!(
        part["thoughtSignature"],
        first_signature("tool_call.json").as_str()
    );
    assert_eq!(part["functionCall"]["name"], "weather");
    let answer = &body["contents"][2]["parts"][0]["functionResponse"];
    assert_eq!(answer["name"], "weather");
    assert_eq!(answer["response"]["result"], "sunny");
}

#[test]
fn parallel_calls_keep_the_signature_on_the_first_call_only() {
    let resp = parse_response(&read_fixture("parallel_tools_text.json")).unwrap();
    let calls = &resp.choices[0].message.tool_calls;
    assert_ne!(calls[0].id, calls[1].id);
    let body = next_turn(calls, "gemini-3.1-flash-lite");
    let parts = body["contents"][1]["parts"].as_array().unwrap();
    assert_eq!(
        parts[0]["thoughtSignature"],
        first_signature("parallel_tools_text.json").as_str()
    );
    assert!(parts[1].get("thoughtSignature").is_none());
}

/// Tool calls as a client accumulates them from stream deltas.
fn accumulate(chunks: &[ChatChunk]) -> Vec<ToolCall> {
    let mut calls: Vec<ToolCall> = Vec::new();
    for c in chunks {
        let ChatChunk::Delta { delta, .. } = c else {
            continue;
        };
        let Some(tc) = &delta.tool_call else { continue };
        let i = tc.index as usize;
        if calls.len() <= i {
            calls.resize(
                i + 1,
                ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                },
            );
        }
        if let Some(id) = &tc.id {
            calls[i].id.clone_from(id);
        }
        if let Some(name) = &tc.name {
            calls[i].name.clone_from(name);
        }
        calls[i].arguments.push_str(&tc.arguments);
    }
    calls
}

#[test]
fn streamed_and_whole_answers_give_the_same_ids() {
    let whole = parse_response(&read_fixture("tool_call.json")).unwrap();
    let (chunks, end) = translate(&read_fixture("tool_call.sse"), false);
    end.unwrap();
    assert_eq!(accumulate(&chunks), whole.choices[0].message.tool_calls);
}

#[test]
fn signature_round_trips_through_streamed_partial_args() {
    let (chunks, end) = translate(&read_fixture("partial_args.sse"), false);
    end.unwrap();
    let calls = accumulate(&chunks);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].arguments, r#"{"location":"Boston"}"#);
    assert_eq!(calls[1].arguments, r#"{"location":"San \"Francisco\""}"#);
    let body = next_turn(&calls, "gemini-3.1-pro-preview");
    let parts = body["contents"][1]["parts"].as_array().unwrap();
    assert_eq!(
        parts[0]["thoughtSignature"],
        first_signature("partial_args.sse").as_str()
    );
    // The second call was signed by nobody; on Gemini 3 it needs none
    // (only the first call of a step is signed).
    assert!(parts[1].get("thoughtSignature").is_none());
    assert_eq!(
        parts[1]["functionCall"]["args"]["location"],
        "San \"Francisco\""
    );
}
