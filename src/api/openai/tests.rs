//! Tests for the OpenAI parse and write paths: field paths in errors, every
//! request feature, and the exact bytes of responses and SSE chunks.

use simd_json::OwnedValue;
use simd_json::prelude::*;

use super::*;
use crate::canonical::*;

fn json(bytes: &[u8]) -> OwnedValue {
    simd_json::to_owned_value(&mut bytes.to_vec()).expect("valid JSON")
}

fn err_param(body: &str) -> String {
    parse_openai_request(body.as_bytes())
        .expect_err("must be rejected")
        .param()
        .to_owned()
}

#[test]
fn parses_a_full_request() {
    let body = br#"{
      "model": "claude-x",
      "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
        {"role": "user", "content": [
          {"type": "text", "text": "What is this?"},
          {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
          {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
        ]},
        {"role": "assistant", "content": null,
         "reasoning_content": "thinking...",
         "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "sig=="},
                             {"type": "redacted_thinking", "data": "opaque"}],
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{\"x\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
      ],
      "tools": [{"type": "function", "function": {"name": "look", "description": "Look.", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}, "strict": true}}],
      "tool_choice": {"type": "function", "function": {"name": "look"}},
      "parallel_tool_calls": false,
      "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
      "temperature": 0.2, "top_p": 1, "max_tokens": 100, "max_completion_tokens": 200,
      "stop": ["END"], "seed": -3, "presence_penalty": 0.5, "frequency_penalty": -0.5, "n": 1,
      "reasoning_effort": "high",
      "stream": true, "stream_options": {"include_usage": true},
      "user": "u-1", "metadata": {"ignored": true, "tags": "batch,eu"}
    }"#;
    let req = parse_openai_request(body).unwrap();
    assert_eq!(req.model, "claude-x");
    // Only string members of `metadata` are kept.
    assert_eq!(req.metadata, vec![("tags".into(), "batch,eu".into())]);
    assert_eq!(req.messages.len(), 5);
    assert_eq!(req.messages[0], Message::text(Role::System, "Be brief."));
    assert_eq!(
        req.messages[1],
        Message::text(Role::Developer, "Use metric.")
    );
    assert_eq!(
        req.messages[2].content[1],
        ContentPart::Image(Box::new(Image {
            source: ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            },
            detail: Some("high".into())
        }))
    );
    assert_eq!(
        req.messages[2].content[2],
        ContentPart::Image(Box::new(Image {
            source: ImageSource::Url("https://example.com/cat.jpg".into()),
            detail: None
        }))
    );
    let assistant = &req.messages[3];
    assert!(assistant.content.is_empty());
    assert_eq!(
        assistant.tool_calls,
        vec![ToolCall {
            id: "call_1".into(),
            name: "look".into(),
            arguments: "{\"x\":1}".into()
        }]
    );
    assert_eq!(
        assistant.reasoning,
        vec![
            ReasoningBlock::Thought {
                text: "hmm".into(),
                signature: Some("sig==".into())
            },
            ReasoningBlock::Redacted {
                data: "opaque".into()
            }
        ]
    );
    assert_eq!(req.messages[4].tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(req.messages[4].joined_text(), "a cat");
    assert_eq!(req.tools.len(), 1);
    assert_eq!(req.tools[0].strict, Some(true));
    assert_eq!(
        req.tools[0]
            .parameters
            .as_ref()
            .unwrap()
            .to_value()
            .get("type")
            .and_then(|t| t.as_str()),
        Some("object")
    );
    assert_eq!(req.tool_choice, Some(ToolChoice::Function("look".into())));
    assert_eq!(req.parallel_tool_calls, Some(false));
    match &req.response_format {
        Some(ResponseFormat::JsonSchema(f)) => {
            assert_eq!(f.name, "answer");
            assert_eq!(f.strict, Some(true));
        }
        other => panic!("unexpected {other:?}"),
    }
    let s = &req.sampling;
    assert_eq!(s.temperature, Some(0.2));
    assert_eq!(s.top_p, Some(1.0));
    assert_eq!(s.max_output_tokens, Some(200), "max_completion_tokens wins");
    assert_eq!(s.stop, vec!["END".to_string()]);
    assert_eq!(s.seed, Some(-3));
    assert_eq!(s.frequency_penalty, Some(-0.5));
    assert_eq!(s.n, Some(1));
    assert_eq!(
        req.reasoning,
        Some(ReasoningConfig {
            effort: Some(ReasoningEffort::High),
            budget_tokens: None
        })
    );
    assert!(req.stream && req.include_usage);
    assert_eq!(req.user.as_deref(), Some("u-1"));
}

#[test]
fn string_stop_and_thinking_extension() {
    let req = parse_openai_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":"\n\n","thinking":{"type":"enabled","budget_tokens":2048},"max_tokens":50}"#,
    )
    .unwrap();
    assert_eq!(req.sampling.stop, vec!["\n\n".to_string()]);
    assert_eq!(req.sampling.max_output_tokens, Some(50));
    assert_eq!(req.reasoning.unwrap().budget_tokens, Some(2048));
    assert!(!req.stream);
}

#[test]
fn errors_name_the_field() {
    let msgs = r#""messages":[{"role":"user","content":"hi"}]"#;
    assert_eq!(err_param("not json"), "");
    assert_eq!(err_param("[]"), "");
    assert_eq!(err_param(&format!("{{{msgs}}}")), "model");
    assert_eq!(err_param(r#"{"model":"m"}"#), "messages");
    assert_eq!(err_param(r#"{"model":"m","messages":[]}"#), "messages");
    assert_eq!(
        err_param(
            r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":7}]}"#
        ),
        "messages[2].content"
    );
    assert_eq!(
        err_param(r#"{"model":"m","messages":[{"role":"wizard","content":"a"}]}"#),
        "messages[0].role"
    );
    assert_eq!(
        err_param(r#"{"model":"m","messages":[{"role":"tool","content":"a"}]}"#),
        "messages[0].tool_call_id"
    );
    assert_eq!(
        err_param(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#
        ),
        "messages[0].content[0].type"
    );
    assert_eq!(
        err_param(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}"#
        ),
        "messages[0].content[0].image_url.url"
    );
    assert_eq!(
        err_param(
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}]}"#
        ),
        "messages[0].tool_calls[0].function.name"
    );
    assert_eq!(
        err_param(&format!(r#"{{"model":"m",{msgs},"temperature":"hot"}}"#)),
        "temperature"
    );
    assert_eq!(
        err_param(&format!(r#"{{"model":"m",{msgs},"max_tokens":-1}}"#)),
        "max_tokens"
    );
    assert_eq!(
        err_param(&format!(r#"{{"model":"m",{msgs},"stop":[1]}}"#)),
        "stop[0]"
    );
    assert_eq!(
        err_param(&format!(
            r#"{{"model":"m",{msgs},"tools":[{{"type":"function","function":{{}}}}]}}"#
        )),
        "tools[0].function.name"
    );
    assert_eq!(
        err_param(&format!(
            r#"{{"model":"m",{msgs},"tools":[{{"type":"function","function":{{"name":"f","strict":"yes"}}}}]}}"#
        )),
        "tools[0].function.strict"
    );
    assert_eq!(
        err_param(&format!(r#"{{"model":"m",{msgs},"tool_choice":"any"}}"#)),
        "tool_choice"
    );
    assert_eq!(
        err_param(&format!(
            r#"{{"model":"m",{msgs},"response_format":{{"type":"xml"}}}}"#
        )),
        "response_format.type"
    );
    assert_eq!(
        err_param(&format!(
            r#"{{"model":"m",{msgs},"reasoning_effort":"max"}}"#
        )),
        "reasoning_effort"
    );
    let e = parse_openai_request(br#"{"model":"m","messages":[{"role":"user"}]}"#).unwrap_err();
    let oe = e.to_openai();
    assert_eq!(
        (oe.status, oe.param.as_deref()),
        (400, Some("messages[0].content"))
    );
}

fn ctx() -> ChunkContext {
    ChunkContext::new("chatcmpl-1", 1700000000, "claude-x")
}

fn chunk_json(chunk: &ChatChunk) -> OwnedValue {
    let mut out = Vec::new();
    write_openai_chunk(chunk, &ctx(), &mut out);
    let text = std::str::from_utf8(&out).unwrap();
    let body = text
        .strip_prefix("data: ")
        .and_then(|t| t.strip_suffix("\n\n"))
        .unwrap();
    json(body.as_bytes())
}

#[test]
fn chunks_have_openai_shape() {
    let first = ChatChunk::delta(ChunkDelta {
        role: Some(Role::Assistant),
        content: Some(String::new()),
        ..Default::default()
    });
    assert_eq!(
        chunk_json(&first),
        json(br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"claude-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#)
    );
    let tool_start = ChatChunk::delta(ChunkDelta {
        tool_call: Some(ToolCallDelta {
            index: 1,
            id: Some("toolu_1".into()),
            name: Some("get_weather".into()),
            arguments: String::new(),
        }),
        ..Default::default()
    });
    assert_eq!(
        chunk_json(&tool_start)["choices"][0]["delta"],
        json(br#"{"tool_calls":[{"index":1,"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":""}}]}"#)
    );
    let tool_more = ChatChunk::delta(ChunkDelta {
        tool_call: Some(ToolCallDelta {
            index: 1,
            arguments: "{\"city\":\"Pa".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        chunk_json(&tool_more)["choices"][0]["delta"],
        json(br#"{"tool_calls":[{"index":1,"function":{"arguments":"{\"city\":\"Pa"}}]}"#)
    );
    let finish = chunk_json(&ChatChunk::finish(FinishReason::ToolCalls));
    assert_eq!(finish["choices"][0]["delta"], json(b"{}"));
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = ChatChunk::Usage(Usage {
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        cached_prompt_tokens: 4,
        cache_creation_tokens: 0,
        reasoning_tokens: 2,
    });
    assert_eq!(
        chunk_json(&usage),
        json(br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"claude-x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#)
    );
}

#[test]
fn done_and_error_events() {
    let mut out = Vec::new();
    write_openai_done(&mut out);
    assert_eq!(out, b"data: [DONE]\n\n");
    out.clear();
    let err = OpenAiError::new(502, "upstream_error", "stream \"cut\"").with_code("stream_cut");
    write_openai_stream_error(&err, &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "data: {\"error\":{\"message\":\"stream \\\"cut\\\"\",\"type\":\"upstream_error\",\"param\":null,\"code\":\"stream_cut\"}}\n\n"
    );
}

#[test]
fn response_has_openai_shape() {
    let resp = ChatResponse {
        id: "msg_1".into(),
        model: "claude-x".into(),
        created: 42,
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                content: Some("Hi".into()),
                refusal: None,
                tool_calls: vec![ToolCall {
                    id: "t1".into(),
                    name: "f".into(),
                    arguments: "{}".into(),
                }],
                reasoning: vec![ReasoningBlock::Thought {
                    text: "why".into(),
                    signature: Some("s".into()),
                }],
            },
            finish_reason: Some(FinishReason::ToolCalls),
        }],
        usage: Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7,
            cache_creation_tokens: 1,
            ..Default::default()
        }),
    };
    let mut out = Vec::new();
    write_openai_response(&resp, &mut out);
    assert_eq!(
        json(&out),
        json(br#"{"id":"msg_1","object":"chat.completion","created":42,"model":"claude-x",
          "choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null,
            "tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}],
            "reasoning_content":"why","thinking_blocks":[{"type":"thinking","thinking":"why","signature":"s"}]},
            "logprobs":null,"finish_reason":"tool_calls"}],
          "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,
            "prompt_tokens_details":{"cached_tokens":0,"cache_creation_tokens":1},
            "completion_tokens_details":{"reasoning_tokens":0}}}"#)
    );
}
