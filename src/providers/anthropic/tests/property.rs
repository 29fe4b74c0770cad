//! Property-style tests: thousands of pseudo-random canonical requests,
//! responses, chunks and damaged inputs pushed through the converters and
//! writers, asserting no panic and well-formed JSON out. The generator is a
//! seeded xorshift, so every failure reproduces.

use simd_json::OwnedValue;

use crate::api::openai::{
    ChunkContext, parse_openai_request, write_openai_chunk, write_openai_response,
};
use crate::canonical::*;
use crate::providers::anthropic::AnthropicOptions;
use crate::providers::anthropic::convert::{ConvertError, build_request, parse_response};
use crate::providers::anthropic::stream::AnthropicStreamTranslator;
use crate::sse::SseParser;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
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
            "",
            "a",
            "hello world",
            "\"",
            "\\",
            "\n",
            "\r\n",
            "\t",
            "\u{0}",
            "\u{1f}",
            "é",
            "☃",
            "🦀",
            "{\"k\":1}",
            "</s>",
            "data: x\n\n",
            " ",
        ];
        (0..self.below(5)).map(|_| *self.pick(PIECES)).collect()
    }
    fn opt_text(&mut self) -> Option<String> {
        self.chance(50).then(|| self.text())
    }
    fn float(&mut self) -> f64 {
        *self.pick(&[
            0.0,
            0.5,
            1.0,
            1.7,
            2.0,
            -1.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
        ])
    }
}

fn schema(rng: &mut Rng) -> OwnedValue {
    match rng.below(3) {
        0 => simd_json::json!({"type": "object"}),
        1 => simd_json::json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        _ => simd_json::json!({"type": "object", "properties": {}, "additionalProperties": false}),
    }
}

fn random_message(rng: &mut Rng) -> Message {
    let role = *rng.pick(&[
        Role::System,
        Role::Developer,
        Role::User,
        Role::Assistant,
        Role::Tool,
    ]);
    let mut content = Vec::new();
    for _ in 0..rng.below(3) {
        if role == Role::User && rng.chance(20) {
            let source = if rng.chance(50) {
                ImageSource::Url(format!("https://example.com/{}.png", rng.below(9)))
            } else {
                ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into(),
                }
            };
            content.push(ContentPart::Image(Box::new(Image {
                source,
                detail: None,
            })));
        } else {
            content.push(ContentPart::Text(rng.text()));
        }
    }
    let mut m = Message::new(role, content);
    match role {
        Role::Assistant => {
            for i in 0..rng.below(3) {
                m.tool_calls.push(ToolCall {
                    id: format!("call_{i}"),
                    name: rng.text(),
                    arguments: rng
                        .pick(&["", "{}", "{\"a\":[1,2]}", "{bad", "[1]", "null"])
                        .to_string(),
                });
            }
            for _ in 0..rng.below(2) {
                m.reasoning.push(if rng.chance(70) {
                    ReasoningBlock::Thought {
                        text: rng.text(),
                        signature: rng.opt_text(),
                    }
                } else {
                    ReasoningBlock::Redacted { data: rng.text() }
                });
            }
        }
        Role::Tool => m.tool_call_id = rng.chance(90).then(|| format!("call_{}", rng.below(3))),
        _ => {}
    }
    m
}

fn random_request(rng: &mut Rng) -> ChatRequest {
    let tools = (0..rng.below(4))
        .map(|i| ToolDefinition {
            name: if rng.chance(5) {
                "json_answer".into()
            } else {
                format!("tool_{i}")
            },
            description: rng.opt_text(),
            parameters: rng.chance(70).then(|| RawJson::from_value(&schema(rng))),
            strict: rng.chance(30).then(|| rng.chance(50)),
        })
        .collect();
    ChatRequest {
        model: "m".into(),
        messages: (0..rng.below(8)).map(|_| random_message(rng)).collect(),
        tools,
        tool_choice: match rng.below(6) {
            0 => Some(ToolChoice::Auto),
            1 => Some(ToolChoice::None),
            2 => Some(ToolChoice::Required),
            3 => Some(ToolChoice::Function(rng.text())),
            _ => None,
        },
        parallel_tool_calls: rng.chance(50).then(|| rng.chance(50)),
        response_format: match rng.below(5) {
            0 => Some(ResponseFormat::Text),
            1 => Some(ResponseFormat::JsonObject),
            2 => Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: rng.text(),
                description: rng.opt_text(),
                schema: RawJson::from_value(&schema(rng)),
                strict: Some(true),
            })),
            _ => None,
        },
        sampling: SamplingParams {
            temperature: rng.chance(50).then(|| rng.float()),
            top_p: rng.chance(50).then(|| rng.float()),
            top_k: rng.chance(20).then(|| rng.below(100) as u32),
            max_output_tokens: rng
                .chance(60)
                .then(|| *rng.pick(&[0, 1, 1024, 1025, 5000, u32::MAX])),
            stop: (0..rng.below(3)).map(|_| rng.text()).collect(),
            seed: rng.chance(20).then(|| rng.next() as i64),
            presence_penalty: rng.chance(20).then(|| rng.float()),
            frequency_penalty: None,
            n: rng.chance(20).then(|| rng.below(3) as u32),
        },
        reasoning: rng.chance(30).then(|| ReasoningConfig {
            effort: rng.chance(50).then(|| {
                *rng.pick(&[
                    ReasoningEffort::None,
                    ReasoningEffort::Minimal,
                    ReasoningEffort::Medium,
                    ReasoningEffort::XHigh,
                ])
            }),
            budget_tokens: rng.chance(50).then(|| *rng.pick(&[0, 10, 4096, u32::MAX])),
        }),
        stream: rng.chance(50),
        include_usage: rng.chance(50),
        user: rng.opt_text(),
        metadata: Vec::new(),
    }
}

fn assert_json(bytes: &[u8], what: &str) {
    if let Err(e) = simd_json::to_owned_value(&mut bytes.to_vec()) {
        panic!(
            "{what} is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// What Anthropic rejects outright: non-alternating turns, a thinking
/// budget that does not fit in `max_tokens`, `null` sampling values.
fn assert_anthropic_invariants(body: &[u8], what: &str) {
    use simd_json::prelude::*;
    let v = simd_json::to_owned_value(&mut body.to_vec()).unwrap_or_else(|e| {
        panic!(
            "{what} is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    let max_tokens = v.get_u64("max_tokens").expect("max_tokens is a number");
    if let Some(budget) = v.get("thinking").and_then(|t| t.get_u64("budget_tokens")) {
        assert!(
            budget >= 1024 && budget < max_tokens,
            "{what}: budget {budget} / {max_tokens}"
        );
    }
    let turns = v.get_array("messages").expect("messages");
    assert!(!turns.is_empty(), "{what}: no turns");
    for pair in turns.windows(2) {
        assert_ne!(
            pair[0].get_str("role"),
            pair[1].get_str("role"),
            "{what}: roles must alternate"
        );
    }
    for turn in turns.iter() {
        assert!(
            !turn.get_array("content").unwrap().is_empty(),
            "{what}: empty turn"
        );
    }
    for key in ["temperature", "top_p"] {
        assert!(
            v.get(key)
                .is_none_or(|t| t.is_f64() || t.is_u64() || t.is_i64()),
            "{what}: {key}"
        );
    }
}

#[test]
fn random_requests_convert_without_panic_to_valid_json() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut rejected) = (0, 0);
    for i in 0..3000 {
        let req = random_request(&mut rng);
        let opts = AnthropicOptions {
            default_max_tokens: *rng.pick(&[1, 4096, u32::MAX]),
            native_structured_output: rng.chance(50),
        };
        match build_request(&req, "claude-test", &opts) {
            Ok(body) => {
                assert_anthropic_invariants(&body, &format!("request #{i}"));
                ok += 1;
            }
            Err(ConvertError::InvalidRequest { .. }) => rejected += 1,
            Err(e) => panic!("request #{i}: unexpected {e:?}"),
        }
    }
    // The generator must exercise both paths, or this test proves little.
    assert!(ok > 500 && rejected > 100, "ok {ok}, rejected {rejected}");
}

fn random_usage(rng: &mut Rng) -> Usage {
    Usage {
        prompt_tokens: rng.next() >> rng.below(64),
        completion_tokens: rng.below(1000),
        total_tokens: rng.next(),
        cached_prompt_tokens: rng.below(10),
        cache_creation_tokens: rng.below(3),
        reasoning_tokens: rng.below(3),
    }
}

#[test]
fn random_responses_and_chunks_write_valid_json() {
    let mut rng = Rng(42);
    let ctx = ChunkContext::new("chatcmpl-\"x\"", 1, "m\n");
    let mut out = Vec::new();
    for i in 0..3000 {
        let message = AssistantMessage {
            content: rng.opt_text(),
            refusal: rng.opt_text(),
            tool_calls: random_message(&mut rng).tool_calls,
            reasoning: random_message(&mut rng).reasoning,
        };
        let resp = ChatResponse {
            id: rng.text(),
            model: rng.text(),
            created: rng.next(),
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: rng.chance(80).then_some(FinishReason::Length),
            }],
            usage: rng.chance(50).then(|| random_usage(&mut rng)),
        };
        out.clear();
        write_openai_response(&resp, &mut out);
        assert_json(&out, &format!("response #{i}"));

        let chunk = if rng.chance(10) {
            ChatChunk::Usage(random_usage(&mut rng))
        } else {
            ChatChunk::Delta {
                choice: rng.below(3) as u32,
                delta: ChunkDelta {
                    role: rng.chance(10).then_some(Role::Assistant),
                    content: rng.opt_text(),
                    refusal: rng.chance(5).then(|| rng.text()),
                    reasoning: rng.opt_text(),
                    reasoning_signature: rng.opt_text(),
                    redacted_reasoning: rng.opt_text(),
                    tool_call: rng.chance(40).then(|| ToolCallDelta {
                        index: rng.below(4) as u32,
                        id: rng.opt_text(),
                        name: rng.opt_text(),
                        arguments: rng.text(),
                    }),
                },
                finish_reason: rng.chance(10).then_some(FinishReason::ToolCalls),
            }
        };
        out.clear();
        write_openai_chunk(&chunk, &ctx, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let payload = text
            .strip_prefix("data: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("chunk #{i} is not one SSE event: {text:?}"));
        assert!(
            !payload.contains(['\n', '\r']),
            "a raw line break would split the SSE event"
        );
        assert_json(payload.as_bytes(), &format!("chunk #{i}"));
    }
}

/// Damaged bodies and streams: truncations and flipped bytes of the
/// fixtures must give errors, never panics.
#[test]
fn damaged_inputs_never_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/anthropic/");
    let read = |name: &str| std::fs::read(format!("{dir}{name}")).unwrap();
    let request = read("requests/multi_turn_tools.openai.json");
    let response = read("tool_use_response.json");
    let stream = read("parallel_tool_use_stream.sse");
    let mut rng = Rng(7);
    let opts = AnthropicOptions {
        default_max_tokens: 1024,
        native_structured_output: false,
    };
    for _ in 0..2000 {
        let damaged = |rng: &mut Rng, src: &[u8]| {
            let mut v = src.to_vec();
            if rng.chance(50) {
                v.truncate(rng.below(v.len() as u64) as usize);
            }
            for _ in 0..rng.below(4) {
                if !v.is_empty() {
                    let at = rng.below(v.len() as u64) as usize;
                    v[at] = *rng.pick(b"{}[]\":,\\\n0aZ \x00\xff");
                }
            }
            v
        };
        if let Ok(req) = parse_openai_request(&damaged(&mut rng, &request)) {
            let _ = build_request(&req, "claude-test", &opts);
        }
        let _ = parse_response(&damaged(&mut rng, &response));
        let mut parser = SseParser::new();
        parser.feed(&damaged(&mut rng, &stream));
        let mut translator = AnthropicStreamTranslator::new(true);
        let mut chunks = Vec::new();
        while let Some(ev) = parser.next_event() {
            if translator.on_event(&ev, &mut chunks).is_err() {
                break;
            }
        }
        let _ = translator.finish();
    }
}
