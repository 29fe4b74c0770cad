//! Whole answers and error bodies from OpenAI-compatible upstreams.

use crate::canonical::{FinishReason, ReasoningBlock, ToolCall};
use crate::providers::openai::{map_error, parse_response};

#[test]
fn an_openai_answer_with_a_tool_call_and_full_usage() {
    let body = br#"{
      "id": "chatcmpl-BcQ8", "object": "chat.completion", "created": 1748496646,
      "model": "gpt-4o-2024-08-06",
      "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
          "audio": null, "function_call": null,
          "tool_calls": [{"id": "call_q", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"location\":\"Shanghai\"}"}}]}}],
      "service_tier": "default", "system_fingerprint": "fp_7",
      "usage": {"completion_tokens": 14, "prompt_tokens": 91, "total_tokens": 105,
        "completion_tokens_details": {"accepted_prediction_tokens": 0, "reasoning_tokens": 3},
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 64}}
    }"#;
    let r = parse_response(body).expect("a completion");
    assert_eq!(
        (r.id.as_str(), r.model.as_str(), r.created),
        ("chatcmpl-BcQ8", "gpt-4o-2024-08-06", 1748496646)
    );
    let choice = &r.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    assert_eq!(
        choice.message.tool_calls,
        vec![ToolCall {
            id: "call_q".into(),
            name: "get_weather".into(),
            arguments: "{\"location\":\"Shanghai\"}".into(),
        }]
    );
    let u = r.usage.expect("usage");
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.cached_prompt_tokens,
            u.reasoning_tokens
        ),
        (91, 14, 105, 64, 3)
    );
}

#[test]
fn compatible_extensions_reasoning_refusal_and_cache_hits() {
    let body = br#"{"id":"d","object":"chat.completion","created":1,"model":"deepseek-reasoner",
      "choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2"},"finish_reason":"stop"},
                 {"index":1,"message":{"role":"assistant","content":null,"refusal":"No."},"finish_reason":"content_filter"}],
      "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_cache_hit_tokens":8,"prompt_cache_miss_tokens":2}}"#;
    let r = parse_response(body).expect("a completion");
    assert_eq!(r.choices[0].message.content.as_deref(), Some("4"));
    assert_eq!(
        r.choices[0].message.reasoning,
        vec![ReasoningBlock::Thought {
            text: "2+2".into(),
            signature: None
        }]
    );
    assert_eq!(r.choices[1].message.refusal.as_deref(), Some("No."));
    assert_eq!(
        r.choices[1].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(r.usage.expect("usage").cached_prompt_tokens, 8);
    // OpenRouter / Ollama call it `reasoning`; arguments may be an object.
    let body = br#"{"choices":[{"message":{"content":"","reasoning":"hm","tool_calls":[{"id":"c","function":{"name":"f","arguments":{"a":[1]}}}]},"finish_reason":"eos"}]}"#;
    let r = parse_response(body).expect("a completion");
    let m = &r.choices[0].message;
    assert_eq!(m.tool_calls[0].arguments, "{\"a\":[1]}");
    assert_eq!(m.reasoning.len(), 1);
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, None);
}

#[test]
fn bodies_that_are_not_answers_are_errors() {
    for body in [&b"<html>502</html>"[..], b"[1]", br#"{"object":"list"}"#] {
        let e = parse_response(body).expect_err("not a completion");
        assert_eq!(
            (e.status, e.code.as_deref()),
            (502, Some("bad_upstream_response"))
        );
    }
    // An error carried by a 200.
    let e = parse_response(
        br#"{"error":{"message":"quota","type":"insufficient_quota","code":"quota"}}"#,
    )
    .expect_err("an error");
    assert_eq!(
        (e.message.as_str(), e.r#type.as_str()),
        ("quota", "insufficient_quota")
    );
}

#[test]
fn openai_shaped_errors_are_kept_with_their_status() {
    let e = map_error(
        429,
        br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    );
    assert_eq!(e.status, 429);
    assert_eq!(
        String::from_utf8(e.to_json()).unwrap(),
        r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#
    );
    // vLLM's numeric code, a param.
    let e = map_error(
        400,
        br#"{"error":{"message":"bad","type":"BadRequestError","param":"n","code":400}}"#,
    );
    assert_eq!(
        (e.code.as_deref(), e.param.as_deref()),
        (Some("400"), Some("n"))
    );
}

#[test]
fn other_error_bodies_are_wrapped_in_openai_shape_with_their_status() {
    let cases: [(u16, &[u8], &str, &str); 5] = [
        (
            404,
            br#"{"detail":"Not Found"}"#,
            "not_found_error",
            "Not Found",
        ),
        (
            422,
            br#"{"detail":[{"loc":["body","model"],"msg":"field required"}]}"#,
            "invalid_request_error",
            "field required",
        ),
        (
            401,
            br#"{"error":"invalid api key"}"#,
            "authentication_error",
            "invalid api key",
        ),
        (
            503,
            b"<html><body>upstream connect error</body></html>",
            "server_error",
            "upstream connect error",
        ),
        (500, br#"{"message":"boom"}"#, "server_error", "boom"),
    ];
    for (status, body, kind, needle) in cases {
        let e = map_error(status, body);
        assert_eq!(e.status, status);
        assert_eq!(e.r#type, kind, "{e:?}");
        assert!(e.message.contains(needle), "{e:?}");
        assert!(e.message.contains(&status.to_string()), "{e:?}");
    }
    let e = map_error(502, b"");
    assert_eq!(e.message, "The provider returned HTTP 502.");
}

#[test]
fn key_shaped_tokens_never_reach_the_client() {
    let e = map_error(401, br#"{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789","type":"invalid_request_error"}}"#);
    assert!(!e.message.contains("abcdefghijklmnop"), "{}", e.message);
    let e = map_error(
        401,
        br#"{"detail":"bad key sk-abcdefghijklmnopqrstuvwxyz0123456789"}"#,
    );
    assert!(!e.message.contains("abcdefghijklmnop"), "{}", e.message);
}
