//! Round trip: thousands of seeded pseudo-random canonical requests written
//! as Chat Completions bodies and parsed back by the OpenAI dialect's own
//! parser must come back equal on every field Chat Completions can carry.

use crate::api::openai::parse_openai_request;
use crate::canonical::*;
use crate::providers::openai::request::{effort_of, write_request};

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
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// Never empty: an empty string is a different (absent) thing to the
    /// parser in several places, covered by the golden tests.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
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
            "🦀",
            "{\"k\":1}",
            "data: x\n\n",
            " ",
            "[DONE]",
        ];
        (0..1 + self.below(4)).map(|_| self.pick(PIECES)).collect()
    }
    fn opt_text(&mut self) -> Option<String> {
        self.chance(50).then(|| self.text())
    }
    fn float(&mut self) -> f64 {
        self.pick(&[0.0, 0.5, 1.0, 1.7, 2.0, -1.0, 1e300, 0.1, 1e-7])
    }
}

fn schema(rng: &mut Rng) -> RawJson {
    RawJson::literal(rng.pick(&[
        r#"{"type":"object"}"#,
        r#"{"type":"object","properties":{"q":{"type":"string","description":"a \"q\""}}}"#,
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
    ]))
}

fn image(rng: &mut Rng) -> ContentPart {
    let source = if rng.chance(50) {
        ImageSource::Url(format!("https://example.com/{}.png", rng.below(9)))
    } else {
        ImageSource::Base64 {
            media_type: rng.pick(&["image/png", "image/jpeg"]).into(),
            data: "iVBORw0KGgo=".into(),
        }
    };
    ContentPart::Image(Box::new(Image {
        source,
        detail: rng
            .chance(30)
            .then(|| rng.pick(&["low", "high", "auto"]).into()),
    }))
}

fn random_message(rng: &mut Rng) -> Message {
    let role = rng.pick(&[
        Role::System,
        Role::Developer,
        Role::User,
        Role::Assistant,
        Role::Tool,
    ]);
    let min_parts = u64::from(matches!(role, Role::System | Role::Developer | Role::User));
    let content: Vec<_> = (0..min_parts + rng.below(3))
        .map(|_| {
            if role == Role::User && rng.chance(25) {
                image(rng)
            } else {
                ContentPart::Text(rng.text())
            }
        })
        .collect();
    let mut m = Message::new(role, content);
    m.name = rng.chance(15).then(|| rng.text());
    match role {
        Role::Assistant => {
            let calls = u64::from(m.content.is_empty()) + rng.below(3);
            for i in 0..calls {
                m.tool_calls.push(ToolCall {
                    id: format!("call_{i}"),
                    name: rng.text(),
                    arguments: rng
                        .pick(&["", "{}", "{\"a\":[1,2]}", "{bad", "null"])
                        .into(),
                });
            }
            if rng.chance(30) {
                m.reasoning.push(ReasoningBlock::Thought {
                    text: rng.text(),
                    signature: rng.opt_text(),
                });
            }
        }
        Role::Tool => m.tool_call_id = Some(format!("call_{}", rng.below(3))),
        _ => {}
    }
    m
}

fn random_request(rng: &mut Rng) -> ChatRequest {
    ChatRequest {
        model: "client-alias".into(),
        messages: (0..1 + rng.below(7)).map(|_| random_message(rng)).collect(),
        tools: (0..rng.below(4))
            .map(|i| ToolDefinition {
                name: format!("tool_{i}"),
                description: rng.opt_text(),
                parameters: rng.chance(70).then(|| schema(rng)),
                strict: rng.chance(30).then(|| rng.chance(50)),
            })
            .collect(),
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
                schema: schema(rng),
                strict: rng.chance(50).then(|| rng.chance(50)),
            })),
            _ => None,
        },
        sampling: SamplingParams {
            top_k: None,
            temperature: rng.chance(50).then(|| rng.float()),
            top_p: rng.chance(50).then(|| rng.float()),
            max_output_tokens: rng.chance(60).then(|| rng.pick(&[0, 1, 1024, u32::MAX])),
            stop: (0..rng.below(3)).map(|_| rng.text()).collect(),
            seed: rng.chance(20).then(|| rng.next() as i64),
            presence_penalty: rng.chance(20).then(|| rng.float()),
            frequency_penalty: rng.chance(20).then(|| rng.float()),
            n: rng.chance(20).then(|| rng.below(3) as u32),
        },
        reasoning: rng.chance(40).then(|| ReasoningConfig {
            effort: rng.chance(50).then(|| {
                rng.pick(&[
                    ReasoningEffort::None,
                    ReasoningEffort::Minimal,
                    ReasoningEffort::Low,
                    ReasoningEffort::Medium,
                    ReasoningEffort::High,
                    ReasoningEffort::XHigh,
                ])
            }),
            budget_tokens: rng
                .chance(50)
                .then(|| rng.pick(&[0, 10, 2048, 4096, u32::MAX])),
        }),
        stream: rng.chance(50),
        include_usage: rng.chance(50),
        user: rng.opt_text(),
        metadata: vec![("tags".into(), "a".into())],
    }
}

/// `req` as it should come back: what Chat Completions cannot carry (or
/// what the adapter decides) changed the documented way.
fn expected(req: &ChatRequest, upstream_model: &str) -> ChatRequest {
    let mut want = req.clone();
    want.model = upstream_model.into();
    for m in &mut want.messages {
        m.reasoning.clear();
    }
    if want.tools.is_empty() {
        want.parallel_tool_calls = None;
        want.tool_choice = None;
    }
    want.reasoning = req.reasoning.and_then(effort_of).map(|e| ReasoningConfig {
        effort: Some(e),
        budget_tokens: None,
    });
    want.include_usage = req.stream;
    want.metadata.clear();
    want
}

#[test]
fn written_requests_parse_back_to_the_same_request() {
    let mut rng = Rng(0x5eed_0a1a);
    let mut body = Vec::new();
    for case in 0..3000 {
        let req = random_request(&mut rng);
        body.clear();
        write_request(&req, "upstream-model", &mut body);
        let got = parse_openai_request(&body)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{}", String::from_utf8_lossy(&body)));
        let want = expected(&req, "upstream-model");
        let show = || format!("case {case}: {}", String::from_utf8_lossy(&body));
        assert_eq!(got.model, want.model, "{}", show());
        assert_eq!(got.messages, want.messages, "{}", show());
        assert_eq!(got.tools, want.tools, "{}", show());
        assert_eq!(got.tool_choice, want.tool_choice, "{}", show());
        assert_eq!(
            got.parallel_tool_calls,
            want.parallel_tool_calls,
            "{}",
            show()
        );
        assert_eq!(got.response_format, want.response_format, "{}", show());
        assert_eq!(got.sampling, want.sampling, "{}", show());
        assert_eq!(got.reasoning, want.reasoning, "{}", show());
        assert_eq!(got.stream, want.stream, "{}", show());
        assert_eq!(got.include_usage, want.include_usage, "{}", show());
        assert_eq!(got.user, want.user, "{}", show());
        assert_eq!(got.metadata, want.metadata, "{}", show());
    }
}
