//! Anthropic request → canonical → the Anthropic provider's writer: the
//! body that comes out means what the client sent.

use simd_json::OwnedValue;
use simd_json::prelude::*;

use super::json;
use crate::api::anthropic::parse_messages_request;
use crate::canonical::{ReasoningBlock, Role, ToolChoice};
use crate::providers::anthropic::AnthropicOptions;
use crate::providers::anthropic::convert::build_request;

const MODEL: &str = "claude-sonnet-4-5-20250929";

/// The same request written by the provider writer from the canonical model.
fn round_trip(body: &str) -> OwnedValue {
    let req =
        parse_messages_request(body.as_bytes()).unwrap_or_else(|e| panic!("{}: {body}", e.message));
    let opts = AnthropicOptions {
        default_max_tokens: 4096,
        native_structured_output: true,
    };
    let out = build_request(&req, MODEL, &opts).expect("the provider writer takes it");
    json(&out)
}

/// Spellings that mean the same to Anthropic, made one: string content as
/// one text block, `cache_control` (tolerated, not carried) left out.
fn normalize(v: &mut OwnedValue) {
    match v {
        OwnedValue::Object(obj) => {
            obj.remove("cache_control");
            for key in ["content", "system"] {
                if let Some(text) = obj.get(key).and_then(|c| c.as_str()).map(str::to_owned) {
                    obj.insert(
                        key.into(),
                        simd_json::json!([{"type": "text", "text": text}]),
                    );
                }
            }
            for (_, item) in obj.iter_mut() {
                normalize(item);
            }
        }
        OwnedValue::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn assert_survives(body: &str) {
    let mut sent = json(body.as_bytes());
    sent.as_object_mut()
        .expect("object")
        .insert("model".into(), MODEL.into());
    let mut got = round_trip(body);
    normalize(&mut sent);
    normalize(&mut got);
    assert_eq!(got, sent, "\nsent {body}");
}

#[test]
fn tools_system_blocks_and_sampling_survive() {
    assert_survives(
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,
        "system":[{"type":"text","text":"You are a weather bot."},
                  {"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
        "messages":[{"role":"user","content":"What is the weather in Paris?"}],
        "tools":[{"name":"get_weather","description":"Get the current weather in a given location",
                  "input_schema":{"type":"object","properties":{"location":{"type":"string","description":"The city and state"},
                  "unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}},
                 {"name":"get_time","input_schema":{"type":"object","properties":{}},"cache_control":{"type":"ephemeral"}}],
        "tool_choice":{"type":"auto","disable_parallel_tool_use":true},
        "stop_sequences":["\n\nHuman:","END"],
        "temperature":0.5,"top_p":0.9,"top_k":40,
        "metadata":{"user_id":"user-1234"}}"#,
    );
}

#[test]
fn each_tool_choice_survives() {
    for choice in [
        r#"{"type":"any"}"#,
        r#"{"type":"tool","name":"get_weather"}"#,
        r#"{"type":"none"}"#,
        r#"{"type":"any","disable_parallel_tool_use":true}"#,
    ] {
        assert_survives(&format!(
            r#"{{"model":"m","max_tokens":64,"messages":[{{"role":"user","content":"hi"}}],
            "tools":[{{"name":"get_weather","input_schema":{{"type":"object"}}}}],"tool_choice":{choice}}}"#
        ));
    }
}

#[test]
fn parallel_tool_results_with_errors_and_images_survive() {
    assert_survives(
        r#"{"model":"m","max_tokens":1024,
        "messages":[
          {"role":"user","content":"Weather and time in Paris?"},
          {"role":"assistant","content":[
            {"type":"text","text":"Checking both."},
            {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"location":"Paris","unit":"celsius"}},
            {"type":"tool_use","id":"toolu_01B","name":"get_time","input":{}}]},
          {"role":"user","content":[
            {"type":"tool_result","tool_use_id":"toolu_01A","content":"15 degrees"},
            {"type":"tool_result","tool_use_id":"toolu_01B","is_error":true,
             "content":[{"type":"text","text":"clock unavailable"},
                        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
            {"type":"text","text":"Thanks, and summarise."}]}],
        "tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string"}}}},
                 {"name":"get_time","input_schema":{"type":"object"}}]}"#,
    );
}

#[test]
fn thinking_with_signatures_survives() {
    let body = r#"{"model":"m","max_tokens":16000,
        "thinking":{"type":"enabled","budget_tokens":10000},
        "messages":[
          {"role":"user","content":"What is 27 * 453?"},
          {"role":"assistant","content":[
            {"type":"thinking","thinking":"Let me compute 27 * 453 step by step.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrk"},
            {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
            {"type":"tool_use","id":"toolu_01C","name":"calculator","input":{"expression":"27*453"}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01C","content":"12231"}]}],
        "tools":[{"name":"calculator","input_schema":{"type":"object","properties":{"expression":{"type":"string"}}}}],
        "stream":true}"#;
    assert_survives(body);
    let req = parse_messages_request(body.as_bytes()).expect("parses");
    assert!(req.stream && req.include_usage);
    assert_eq!(req.reasoning.and_then(|r| r.budget_tokens), Some(10000));
    assert!(matches!(
        &req.messages[1].reasoning[0],
        ReasoningBlock::Thought { signature: Some(s), .. } if s.starts_with("EqQB")
    ));
}

#[test]
fn images_by_base64_and_url_survive() {
    assert_survives(
        r#"{"model":"m","max_tokens":1024,"messages":[{"role":"user","content":[
          {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQSkZJRg=="}},
          {"type":"image","source":{"type":"url","url":"https://upload.wikimedia.org/a.jpg"}},
          {"type":"text","text":"Compare these images."}]}]}"#,
    );
}

#[test]
fn canonical_fields_are_what_the_client_set() {
    let req = parse_messages_request(
        br#"{"model":"claude-x","max_tokens":7,"system":"Be terse.","metadata":{"user_id":"u1"},
        "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hel"}],
        "tools":[{"name":"t","input_schema":{"type":"object"}}],
        "tool_choice":{"type":"tool","name":"t","disable_parallel_tool_use":true},
        "thinking":{"type":"disabled"},"top_k":5}"#,
    )
    .expect("parses");
    assert_eq!(req.model, "claude-x");
    assert_eq!(req.sampling.max_output_tokens, Some(7));
    assert_eq!(req.sampling.top_k, Some(5));
    assert_eq!(req.user.as_deref(), Some("u1"));
    assert_eq!(req.tool_choice, Some(ToolChoice::Function("t".into())));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert_eq!(req.reasoning, None);
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User, Role::Assistant]);
    assert!(!req.stream && !req.include_usage);
}

#[test]
fn what_cannot_be_carried_is_refused_naming_the_field() {
    let user = r#"{"role":"user","content":"hi"}"#;
    let with = |extra: &str, messages: &str| {
        format!(r#"{{"model":"m","max_tokens":10,"messages":[{messages}]{extra}}}"#)
    };
    let cases = [
        (
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.to_owned(),
            "max_tokens",
        ),
        (with("", ""), "messages"),
        (
            r#"{"max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#.to_owned(),
            "model",
        ),
        (
            with(
                "",
                &format!(
                    r#"{user},{user},{{"role":"user","content":[{{"type":"document","source":{{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}}}]}}"#
                ),
            ),
            "messages[2].content[0].type",
        ),
        (
            with(
                "",
                r#"{"role":"user","content":[{"type":"text","text":"a"},{"type":"search_result","source":"x"}]}"#,
            ),
            "messages[0].content[1].type",
        ),
        (
            with(
                "",
                r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"document"}]}]}"#,
            ),
            "messages[0].content[0].content[0].type",
        ),
        (
            with(
                "",
                r#"{"role":"assistant","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}}]}"#,
            ),
            "messages[0].content[0].type",
        ),
        (
            with(
                "",
                r#"{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}"#,
            ),
            "messages[0].content[0].source.type",
        ),
        (
            with("", r#"{"role":"system","content":"x"}"#),
            "messages[0].role",
        ),
        (
            with(
                r#","tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]"#,
                user,
            ),
            "tools[0].type",
        ),
        (
            with(r#","tools":[{"name":"t"}]"#, user),
            "tools[0].input_schema",
        ),
        (
            with(r#","thinking":{"type":"adaptive"}"#, user),
            "thinking.type",
        ),
        (
            with(r#","thinking":{"type":"enabled"}"#, user),
            "thinking.budget_tokens",
        ),
        (
            with(r#","tool_choice":{"type":"required"}"#, user),
            "tool_choice.type",
        ),
        (
            with(r#","tool_choice":{"type":"tool"}"#, user),
            "tool_choice.name",
        ),
        (
            with(r#","mcp_servers":[{"type":"url","url":"https://x"}]"#, user),
            "mcp_servers",
        ),
        (
            with(r#","system":[{"type":"image"}]"#, user),
            "system[0].type",
        ),
        (with(r#","stop_sequences":"END""#, user), "stop_sequences"),
        (with(r#","top_k":-1"#, user), "top_k"),
        (
            with(r#","metadata":{"user_id":5}"#, user),
            "metadata.user_id",
        ),
    ];
    for (body, param) in cases {
        let err = parse_messages_request(body.as_bytes()).expect_err(&body);
        assert_eq!(err.status, 400, "{body}");
        assert_eq!(err.r#type, "invalid_request_error", "{body}");
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {}", err.message);
        assert!(err.message.starts_with(param), "{}", err.message);
    }
    let err = parse_messages_request(b"{not json").expect_err("invalid JSON");
    assert_eq!((err.status, err.param), (400, None));
}

#[test]
fn structured_output_survives_and_effort_is_the_reasoning_effort() {
    assert_survives(
        r#"{"model":"m","max_tokens":512,"messages":[{"role":"user","content":"Extract."}],
        "output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],"additionalProperties":false}}}}"#,
    );
    let req = parse_messages_request(
        br#"{"model":"m","max_tokens":512,"messages":[{"role":"user","content":"x"}],
        "output_format":{"type":"json_schema","schema":{"type":"object"}},"output_config":{"effort":"low"}}"#,
    )
    .expect("parses");
    assert!(matches!(
        req.response_format,
        Some(crate::canonical::ResponseFormat::JsonSchema(_))
    ));
    assert_eq!(
        req.reasoning.and_then(|r| r.effort),
        Some(crate::canonical::ReasoningEffort::Low)
    );
    for (extra, param) in [
        (
            r#""output_config":{"effort":"max"}"#,
            "output_config.effort",
        ),
        (
            r#""output_config":{"format":{"type":"text"}}"#,
            "output_config.format.type",
        ),
        (
            r#""output_format":{"type":"json_schema"}"#,
            "output_format.schema",
        ),
        (
            r#""output_config":{"verbosity":"low"}"#,
            "output_config.verbosity",
        ),
    ] {
        let body = format!(
            r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":"x"}}],{extra}}}"#
        );
        let err = parse_messages_request(body.as_bytes()).expect_err(&body);
        assert_eq!(err.param.as_deref(), Some(param), "{body}");
    }
}

#[test]
fn the_route_reads_model_and_stream_without_judging_the_rest() {
    let route = crate::api::anthropic::read_route_fields(
        br#"{"model":"claude-x","max_tokens":9,"stream":true,"messages":[{"role":"user","content":[{"type":"document"}]}]}"#,
    )
    .expect("reads");
    // What Anthropic itself requires is refused as the full parse refuses it.
    let err = crate::api::anthropic::read_messages_route(
        br#"{"model":"claude-x","messages":[{"role":"user","content":"x"}]}"#,
    )
    .expect_err("no max_tokens");
    assert_eq!(err.param.as_deref(), Some("max_tokens"));
    assert_eq!((route.model.as_str(), route.stream), ("claude-x", true));
    let err =
        crate::api::anthropic::read_route_fields(br#"{"stream":true}"#).expect_err("no model");
    assert_eq!(err.param.as_deref(), Some("model"));
}
