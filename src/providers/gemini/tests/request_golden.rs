//! OpenAI request in → exact Gemini request body out, per fixture pair
//! `requests/<name>.openai.json` → `requests/<name>.gemini.json`.

use super::{json, read_fixture};
use crate::api::openai::parse_openai_request;
use crate::providers::gemini::convert::{ConvertError, GeminiOptions, build_request, request_path};

fn check(name: &str) {
    let openai = read_fixture(&format!("requests/{name}.openai.json"));
    let req = parse_openai_request(&openai).unwrap_or_else(|e| panic!("{name}: {e}"));
    let opts = GeminiOptions::for_model(&req.model);
    let body = build_request(&req, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = json(&body);
    let want = json(&read_fixture(&format!("requests/{name}.gemini.json")));
    assert_eq!(got, want, "{name}: got {}", String::from_utf8_lossy(&body));
}

#[test]
fn plain_text() {
    check("text");
}

#[test]
fn system_and_developer_prompts_are_hoisted_and_user_turns_merged() {
    check("system");
}

#[test]
fn tool_results_map_back_to_names_by_id_with_signatures_restored() {
    check("tool_results");
}

#[test]
fn parallel_calls_on_gemini3_get_the_stand_in_signature_and_gemini_ids() {
    check("parallel_gemini3");
}

#[test]
fn images_inline_and_by_url() {
    check("images");
}

#[test]
fn json_schema_and_forced_function() {
    check("json_schema");
}

#[test]
fn json_object_sets_only_the_mime_type() {
    check("json_object");
}

#[test]
fn stop_sequences_and_reasoning_effort() {
    check("stop_reasoning");
}

#[test]
fn explicit_thinking_budget_wins_over_effort() {
    check("reasoning_off_and_budget");
}

#[test]
fn gemini3_gets_thinking_levels() {
    check("reasoning_gemini3");
}

#[test]
fn old_models_get_the_openapi_subset() {
    check("openapi_subset");
}

fn req(body: &str) -> crate::canonical::ChatRequest {
    parse_openai_request(body.as_bytes()).unwrap()
}

#[test]
fn a_tool_result_for_an_unknown_id_is_a_400_naming_the_field() {
    let r = req(r#"{"model":"m","messages":[{"role":"user","content":"hi"},
        {"role":"tool","tool_call_id":"call_nope","content":"x"}]}"#);
    let err = build_request(&r, &GeminiOptions::default()).unwrap_err();
    assert_eq!(
        err,
        ConvertError::UnknownToolCall {
            index: 1,
            id: "call_nope".into()
        }
    );
    let oa = err.to_openai();
    assert_eq!(oa.status, 400);
    assert_eq!(oa.param.as_deref(), Some("messages[1].tool_call_id"));
}

#[test]
fn non_object_replayed_arguments_are_refused() {
    let r = req(r#"{"model":"m","messages":[{"role":"user","content":"hi"},
        {"role":"assistant","tool_calls":[{"id":"c1","type":"function",
          "function":{"name":"f","arguments":"[1,2]"}}]}]}"#);
    let err = build_request(&r, &GeminiOptions::default()).unwrap_err();
    assert_eq!(err, ConvertError::BadArguments { index: 1, call: 0 });
}

#[test]
fn only_system_messages_is_refused() {
    let r = req(r#"{"model":"m","messages":[{"role":"system","content":"be nice"}]}"#);
    let err = build_request(&r, &GeminiOptions::default()).unwrap_err();
    assert_eq!(err, ConvertError::NoContents);
    assert_eq!(err.to_openai().status, 400);
}

#[test]
fn paths_put_the_model_in_the_url() {
    assert_eq!(
        request_path("gemini-2.5-flash", false),
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        request_path("models/gemini-3-pro-preview", true),
        "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    );
}

#[test]
fn options_follow_the_model_generation() {
    use crate::providers::gemini::convert::SchemaMode;
    let old = GeminiOptions::for_model("gemini-2.0-flash");
    assert_eq!(old.schema_mode, SchemaMode::OpenApiSubset);
    assert!(!old.signature_fallback);
    let g3 = GeminiOptions::for_model("gemini-3-flash-preview");
    assert_eq!(g3.schema_mode, SchemaMode::JsonSchema);
    assert!(g3.signature_fallback);
    assert!(g3.thinking_levels);
    assert!(!GeminiOptions::for_model("gemini-2.5-pro").thinking_levels);
}

#[test]
fn empty_text_parts_are_skipped() {
    let r = req(r#"{"model":"m","messages":[{"role":"user","content":[
        {"type":"text","text":""},{"type":"text","text":"hi"}]},
        {"role":"user","content":[{"type":"text","text":""}]},{"role":"user","content":"again"}]}"#);
    let body = super::json(&build_request(&r, &GeminiOptions::default()).unwrap());
    let want =
        super::json(br#"{"contents":[{"role":"user","parts":[{"text":"hi"},{"text":"again"}]}]}"#);
    assert_eq!(body, want);
}

/// The `countTokens` body carries the generateContent body (without its
/// generation config) under `generateContentRequest`, with the model named.
fn check_count(name: &str) {
    use crate::providers::gemini::convert::write_count_request;
    use simd_json::prelude::*;
    let openai = read_fixture(&format!("requests/{name}.openai.json"));
    let req = parse_openai_request(&openai).unwrap_or_else(|e| panic!("{name}: {e}"));
    let opts = GeminiOptions::for_model(&req.model);
    let mut body = Vec::new();
    write_count_request(&req, &opts, "gemini-2.5-flash", &mut body)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = json(&body);
    let mut want = json(&read_fixture(&format!("requests/{name}.gemini.json")));
    let inner = want.as_object_mut().expect("fixture is an object");
    inner.remove("generationConfig");
    inner.insert("model".into(), "models/gemini-2.5-flash".into());
    let got_inner = got.get("generateContentRequest").expect("wrapped");
    assert_eq!(
        got_inner,
        &want,
        "{name}: got {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(got.as_object().map(|o| o.len()), Some(1));
}

#[test]
fn count_body_wraps_the_prompt_system_and_tools() {
    check_count("system");
    check_count("json_schema");
    check_count("tool_results");
}
