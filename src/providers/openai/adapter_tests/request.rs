//! The body written for one request, whole: the choices the property test
//! cannot see (field names, what is left out, where tool images go).

use crate::canonical::*;
use crate::providers::openai::write_request;

fn written(req: &ChatRequest) -> String {
    let mut out = Vec::new();
    write_request(req, "deepseek-chat", &mut out);
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn a_tool_turn_with_images_streams_with_usage() {
    let mut assistant = Message::new(Role::Assistant, Parts::default());
    assistant.tool_calls.push(ToolCall {
        id: "toolu_1".into(),
        name: "screenshot".into(),
        arguments: "{}".into(),
    });
    assistant.reasoning.push(ReasoningBlock::Thought {
        text: "look".into(),
        signature: Some("sig".into()),
    });
    let mut result = Message::new(
        Role::Tool,
        vec![
            ContentPart::Text("taken".into()),
            ContentPart::Image(Box::new(Image {
                source: ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "AAAA".into(),
                },
                detail: None,
            })),
        ],
    );
    result.tool_call_id = Some("toolu_1".into());
    let req = ChatRequest {
        model: "alias".into(),
        messages: vec![
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Look."),
            assistant,
            result,
            Message::text(Role::User, "And?"),
        ],
        parallel_tool_calls: Some(false),
        sampling: SamplingParams {
            max_output_tokens: Some(1024),
            temperature: Some(0.5),
            stop: vec!["END".into()],
            ..Default::default()
        },
        reasoning: Some(ReasoningConfig {
            effort: None,
            budget_tokens: Some(4096),
        }),
        stream: true,
        include_usage: false,
        metadata: vec![("tags".into(), "x".into())],
        ..Default::default()
    };
    assert_eq!(
        written(&req),
        concat!(
            r#"{"model":"deepseek-chat","messages":["#,
            r#"{"role":"system","content":"Be brief."},"#,
            r#"{"role":"user","content":"Look."},"#,
            r#"{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"screenshot","arguments":"{}"}}]},"#,
            r#"{"role":"tool","content":"taken","tool_call_id":"toolu_1"},"#,
            r#"{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},"#,
            r#"{"role":"user","content":"And?"}],"#,
            r#""temperature":0.5,"max_completion_tokens":1024,"stop":["END"],"#,
            r#""reasoning_effort":"medium","stream":true,"stream_options":{"include_usage":true}}"#,
        )
    );
}

#[test]
fn tools_choice_and_format() {
    let req = ChatRequest {
        model: "alias".into(),
        messages: vec![Message::text(Role::User, "hi")],
        tools: vec![ToolDefinition {
            name: "f".into(),
            description: Some("does f".into()),
            parameters: Some(RawJson::literal(r#"{"type":"object"}"#)),
            strict: Some(true),
        }],
        tool_choice: Some(ToolChoice::Function("f".into())),
        parallel_tool_calls: Some(true),
        response_format: Some(ResponseFormat::JsonObject),
        user: Some("u1".into()),
        ..Default::default()
    };
    assert_eq!(
        written(&req),
        concat!(
            r#"{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"#,
            r#""tools":[{"type":"function","function":{"name":"f","description":"does f","parameters":{"type":"object"},"strict":true}}],"#,
            r#""parallel_tool_calls":true,"tool_choice":{"type":"function","function":{"name":"f"}},"#,
            r#""response_format":{"type":"json_object"},"user":"u1"}"#,
        )
    );
}
