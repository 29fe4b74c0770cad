//! Property-style tests with a small deterministic PRNG: thousands of random
//! canonical requests through canonical → Gemini (never a panic, always
//! valid JSON), and random Gemini streams through the translator (never a
//! panic; every finished stream gives each tool call complete JSON arguments).

use simd_json::OwnedValue;
use simd_json::prelude::*;

use super::json;
use crate::canonical::{
    ChatChunk, ChatRequest, ContentPart, Image, ImageSource, JsonSchemaFormat, Message, Parts,
    RawJson, ReasoningConfig, ReasoningEffort, ResponseFormat, Role, ToolCall, ToolChoice,
    ToolDefinition,
};
use crate::providers::gemini::convert::{GeminiOptions, SchemaMode, build_request};
use crate::providers::gemini::ids;
use crate::providers::gemini::stream::GeminiStreamTranslator;
use crate::sse::SseEvent;

/// SplitMix64: tiny, deterministic, good enough to shake out edge cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "hi", " ", "\"", "\\", "\n", "\u{0}", "é", "🦀", "{", "}", "[1,", "null", "\u{2028}",
        ];
        (0..self.below(6)).map(|_| *self.pick(PIECES)).collect()
    }
}

fn schema(rng: &mut Rng) -> OwnedValue {
    const SCHEMAS: &[&str] = &[
        r#"{"type":"object","properties":{"a":{"type":["string","null"]}},"required":["a"]}"#,
        r#"{"type":"object","properties":{}}"#,
        r##"{"$defs":{"N":{"type":"object","properties":{"n":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}"##,
        r#"{"type":"object","properties":{"x":{"oneOf":[{"const":1},{"type":"array","items":{}}]}},"additionalProperties":false}"#,
        r#"{"allOf":[{"type":"object","properties":{"k":{"enum":["a","b"]}}}]}"#,
        r#"true"#,
    ];
    json(rng.pick(SCHEMAS).as_bytes())
}

fn random_request(rng: &mut Rng) -> ChatRequest {
    let mut req = ChatRequest {
        model: "m".into(),
        ..ChatRequest::default()
    };
    let mut ids_so_far: Vec<String> = Vec::new();
    for _ in 0..1 + rng.below(8) {
        let role = *rng.pick(&[
            Role::System,
            Role::Developer,
            Role::User,
            Role::Assistant,
            Role::Tool,
        ]);
        let mut msg = Message::text(role, rng.text());
        if role == Role::User && rng.chance(30) {
            let source = if rng.chance(50) {
                ImageSource::Url(format!(
                    "https://x.test/{}.{}",
                    rng.text(),
                    rng.pick(&["png", "JPG", "", "pdf"])
                ))
            } else {
                ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: rng.text(),
                }
            };
            msg.content.push(ContentPart::Image(Box::new(Image {
                source,
                detail: None,
            })));
        }
        if role == Role::Assistant {
            for k in 0..rng.below(3) {
                let sig = rng
                    .chance(50)
                    .then(|| rng.pick(&["QUJD", "a+b/==", "x-y_", ""]).to_string());
                let id = match rng.below(3) {
                    0 => ids::encode(rng.next(), rng.chance(30).then_some("g_1"), sig.as_deref()),
                    1 => format!("toolu_{k}{}", rng.text()),
                    _ => rng.text(),
                };
                let arguments = rng
                    .pick(&["", "{}", r#"{"a":[1,{"b":null}]}"#, "[1]", "{bad"])
                    .to_string();
                ids_so_far.push(id.clone());
                msg.tool_calls.push(ToolCall {
                    id,
                    name: format!("f{k}"),
                    arguments,
                });
            }
        }
        if role == Role::Tool {
            msg.tool_call_id = Some(match ids_so_far.is_empty() || rng.chance(10) {
                true => rng.text(),
                false => rng.pick(&ids_so_far).clone(),
            });
            if rng.chance(40) {
                msg.content = Parts::one(ContentPart::Text(r#"{"ok":true,"n":[1,2]}"#.into()));
            }
        }
        req.messages.push(msg);
    }
    for k in 0..rng.below(3) {
        req.tools.push(ToolDefinition {
            name: format!("f{k}"),
            description: rng.chance(50).then(|| rng.text()),
            parameters: rng.chance(80).then(|| RawJson::from_value(&schema(rng))),
            strict: None,
        });
    }
    req.tool_choice = match rng.below(5) {
        0 => None,
        1 => Some(ToolChoice::Auto),
        2 => Some(ToolChoice::None),
        3 => Some(ToolChoice::Required),
        _ => Some(ToolChoice::Function(rng.text())),
    };
    req.response_format = match rng.below(4) {
        0 => None,
        1 => Some(ResponseFormat::Text),
        2 => Some(ResponseFormat::JsonObject),
        _ => Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "s".into(),
            description: None,
            schema: RawJson::from_value(&schema(rng)),
            strict: Some(true),
        })),
    };
    let s = &mut req.sampling;
    s.temperature = rng.chance(50).then(|| rng.below(200) as f64 / 100.0);
    s.top_p = rng.chance(30).then_some(f64::NAN);
    s.max_output_tokens = rng.chance(50).then(|| rng.below(100_000) as u32);
    s.stop = (0..rng.below(3)).map(|_| rng.text()).collect();
    s.seed = rng.chance(30).then(|| rng.next() as i64);
    req.reasoning = rng.chance(40).then(|| ReasoningConfig {
        effort: Some(*rng.pick(&[
            ReasoningEffort::None,
            ReasoningEffort::Minimal,
            ReasoningEffort::XHigh,
        ])),
        budget_tokens: rng.chance(30).then(|| rng.below(40_000) as u32),
    });
    req
}

#[test]
fn random_requests_translate_to_valid_json_or_a_clean_error() {
    let mut rng = Rng(0x5eed_0001);
    let mut ok = 0;
    for i in 0..3000 {
        let req = random_request(&mut rng);
        for mode in [SchemaMode::JsonSchema, SchemaMode::OpenApiSubset] {
            let opts = GeminiOptions {
                schema_mode: mode,
                signature_fallback: i % 2 == 0,
                thinking_levels: i % 3 == 0,
            };
            match build_request(&req, &opts) {
                Ok(body) => {
                    let mut buf = body.clone();
                    let v = simd_json::to_owned_value(&mut buf).unwrap_or_else(|e| {
                        panic!(
                            "#{i}: invalid JSON ({e}): {}",
                            String::from_utf8_lossy(&body)
                        )
                    });
                    assert!(
                        v["contents"].as_array().is_some_and(|c| !c.is_empty()),
                        "#{i}"
                    );
                    ok += 1;
                }
                Err(e) => assert_eq!(e.to_openai().status, 400, "#{i}: {e}"),
            }
        }
    }
    assert!(ok > 1000, "too few requests translated: {ok}");
}

/// One random Gemini stream chunk, as the `data:` payload.
fn random_chunk(rng: &mut Rng, last: bool) -> String {
    let mut parts = Vec::new();
    for _ in 0..rng.below(3) {
        parts.push(match rng.below(7) {
            0 => format!(r#"{{"text":{}}}"#, simd_json::to_string(&rng.text()).unwrap()),
            1 => r#"{"text":"hm","thought":true}"#.to_owned(),
            2 => r#"{"functionCall":{"name":"f","args":{"a":[1,"x"]}},"thoughtSignature":"QUJD"}"#.to_owned(),
            3 => r#"{"functionCall":{"name":"g","willContinue":true}}"#.to_owned(),
            4 => format!(
                r#"{{"functionCall":{{"partialArgs":[{{"jsonPath":"$.{}[{}]","stringValue":"p\"","willContinue":{}}}],"willContinue":{}}}}}"#,
                rng.pick(&["a", "b.c", "a"]),
                rng.below(3),
                rng.chance(50),
                rng.chance(70),
            ),
            5 => r#"{"functionCall":{"partialArgs":[{"jsonPath":"$.n","numberValue":1.5},{"jsonPath":"$.z","nullValue":"NULL_VALUE"}]}}"#.to_owned(),
            _ => r#"{"functionCall":{}}"#.to_owned(),
        });
    }
    let finish = if last {
        r#","finishReason":"STOP""#
    } else {
        ""
    };
    format!(
        r#"{{"candidates":[{{"content":{{"role":"model","parts":[{}]}}{finish}}}],"usageMetadata":{{"promptTokenCount":3}},"responseId":"r"}}"#,
        parts.join(",")
    )
}

#[test]
fn random_streams_give_complete_json_arguments() {
    let mut rng = Rng(0x5eed_0002);
    for i in 0..2000 {
        let mut tr = GeminiStreamTranslator::new(rng.chance(50));
        let mut chunks = Vec::new();
        let n = 1 + rng.below(8);
        let finishes = rng.chance(85);
        for k in 0..n {
            let ev = SseEvent {
                data: random_chunk(&mut rng, finishes && k == n - 1),
                ..SseEvent::default()
            };
            tr.on_event(&ev, &mut chunks)
                .unwrap_or_else(|e| panic!("#{i}: {e}"));
        }
        match tr.finish() {
            Ok(tail) => chunks.extend(tail),
            Err(e) => {
                assert!(!finishes, "#{i}: {e}");
                continue;
            }
        }
        let mut args: Vec<String> = Vec::new();
        for c in &chunks {
            if let ChatChunk::Delta { delta, .. } = c
                && let Some(tc) = &delta.tool_call
            {
                let i = tc.index as usize;
                assert!(i <= args.len(), "indexes must be dense and in order");
                if i == args.len() {
                    assert!(tc.id.is_some() && tc.name.is_some());
                    args.push(String::new());
                }
                args[i].push_str(&tc.arguments);
            }
        }
        for (k, a) in args.iter().enumerate() {
            let v = json(a.as_bytes());
            assert!(v.is_object(), "#{i} call {k}: {a}");
        }
    }
}
