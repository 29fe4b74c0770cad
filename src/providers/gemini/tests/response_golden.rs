//! Gemini response body in → exact OpenAI `chat.completion` out
//! (`<name>.json` → `<name>.openai.json`), and error bodies → OpenAI errors
//! (`error_<status>.json` → `error_<status>.openai.json`).

use super::{blessing, fixture_path, json, read_fixture};
use crate::api::openai::write_openai_response;
use crate::canonical::FinishReason;
use crate::providers::gemini::convert::{
    ConvertError, map_error, parse_response, retry_after_secs,
};

fn check(name: &str) {
    let resp = parse_response(&read_fixture(&format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut got = Vec::new();
    write_openai_response(&resp, &mut got);
    let expected = format!("{name}.openai.json");
    if blessing() {
        std::fs::write(fixture_path(&expected), &got).unwrap();
    }
    assert_eq!(
        json(&got),
        json(&read_fixture(&expected)),
        "{name}: got {}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn text() {
    check("text");
}

#[test]
fn tool_call_with_thought_signature() {
    check("tool_call");
}

#[test]
fn parallel_tool_calls_with_text() {
    check("parallel_tools_text");
}

#[test]
fn thoughts_become_reasoning() {
    check("thinking");
}

#[test]
fn json_answer() {
    check("json_answer");
}

#[test]
fn max_tokens_is_length() {
    check("max_tokens");
}

#[test]
fn safety_stop_is_content_filter() {
    check("safety_block");
}

#[test]
fn blocked_prompt_is_content_filter_with_empty_content() {
    check("prompt_block");
}

#[test]
fn finish_reasons_and_usage_in_the_canonical_model() {
    let resp = parse_response(&read_fixture("parallel_tools_text.json")).unwrap();
    let choice = &resp.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.tool_calls.len(), 2);
    let usage = resp.usage.unwrap();
    // 30 answer tokens + 120 thinking tokens, all billed as completion.
    assert_eq!(usage.completion_tokens, 150);
    assert_eq!(usage.reasoning_tokens, 120);
    assert_eq!(usage.cached_prompt_tokens, 32);
    assert_eq!(usage.total_tokens, 191);
}

#[test]
fn unreadable_bodies_are_502() {
    let err = parse_response(b"<html>oops</html>").unwrap_err();
    assert!(matches!(err, ConvertError::BadResponse(_)));
    assert_eq!(err.to_openai().status, 502);
    let empty = parse_response(br#"{"candidates":[]}"#).unwrap_err();
    assert_eq!(empty.to_openai().status, 502);
}

#[test]
fn null_members_read_as_absent_and_wrong_types_are_unreadable() {
    let resp = parse_response(
        br#"{"candidates":[{"content":{"role":null,"parts":null},"finishReason":"STOP","index":null}],"usageMetadata":{"promptTokenCount":null,"candidatesTokenCount":3},"responseId":null}"#,
    )
    .unwrap();
    assert_eq!(resp.choices[0].message.content.as_deref(), Some(""));
    assert_eq!(resp.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(resp.usage.unwrap().completion_tokens, 3);
    for bad in [
        &br#"[]"#[..],
        br#"{"candidates":{}}"#,
        br#"{"candidates":[{"content":{"parts":[{"text":7}]}}]}"#,
        br#"{"candidates":[{"index":-1}]}"#,
        br#"{"usageMetadata":{"promptTokenCount":1.5}}"#,
    ] {
        let err = parse_response(bad).unwrap_err();
        assert!(
            matches!(err, ConvertError::BadResponse(_)),
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(err.to_openai().status, 502);
    }
}

#[test]
fn error_bodies_keep_their_status_class() {
    for status in [400u16, 401, 403, 404, 429, 500, 503, 504] {
        let err = map_error(status, &read_fixture(&format!("error_{status}.json")));
        let mut body = Vec::new();
        err.write_body(&mut body);
        let got = format!(
            "{{\"status\":{},\"body\":{}}}",
            err.status,
            String::from_utf8_lossy(&body)
        );
        let expected = format!("error_{status}.openai.json");
        if blessing() {
            std::fs::write(fixture_path(&expected), &got).unwrap();
        }
        assert_eq!(
            json(got.as_bytes()),
            json(&read_fixture(&expected)),
            "{status}: {got}"
        );
        assert_eq!(err.status, status);
    }
}

#[test]
fn errors_without_a_usable_body_still_map() {
    let err = map_error(503, b"upstream connect error");
    assert_eq!(err.status, 503);
    assert_eq!(err.r#type, "server_error");
    assert!(err.message.contains("503"));
    assert_eq!(map_error(200, b"{}").status, 502);
}

#[test]
fn retry_delay_of_a_429_is_rounded_up() {
    assert_eq!(retry_after_secs(&read_fixture("error_429.json")), Some(35));
    assert_eq!(retry_after_secs(&read_fixture("error_503.json")), None);
    assert_eq!(retry_after_secs(b"not json"), None);
}
