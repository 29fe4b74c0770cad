//! Canonical request → Anthropic Messages request body: system hoisting,
//! strictly alternating turns, thinking budget and structured output; tools
//! and tool choice are in `tools`, the byte layout in `body`.

use simd_json::prelude::*;

use super::ConvertError;
use super::body::write_request;
use super::tools::{JsonAnswer, build_tool_choice, build_tools};
use crate::canonical::tape::with_tape;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, RawJson, ReasoningBlock, ReasoningEffort, Role,
};
use crate::providers::anthropic::AnthropicOptions;
use crate::providers::anthropic::wire::{self, Block, SystemPrompt, TextBlock, Turn};

/// Anthropic refuses thinking budgets below this.
const MIN_THINKING_BUDGET: u32 = 1024;

/// Thinking budget per OpenAI effort level. `budget_tokens` counts inside
/// `max_tokens`, like OpenAI's reasoning tokens count inside
/// `max_completion_tokens`.
fn effort_budget(effort: ReasoningEffort) -> Option<u32> {
    match effort {
        ReasoningEffort::None => None,
        ReasoningEffort::Minimal => Some(1024),
        ReasoningEffort::Low => Some(2048),
        ReasoningEffort::Medium => Some(8192),
        ReasoningEffort::High => Some(16384),
        ReasoningEffort::XHigh => Some(32768),
    }
}

/// Builds the JSON body for `POST /v1/messages`.
pub fn build_request(
    req: &ChatRequest,
    upstream_model: &str,
    opts: &AnthropicOptions,
) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::with_capacity(1024);
    write_request(&build_wire(req, upstream_model, opts)?, &mut out);
    Ok(out)
}

/// The request as wire types, before it is written out.
pub(super) fn build_wire<'a>(
    req: &'a ChatRequest,
    upstream_model: &'a str,
    opts: &AnthropicOptions,
) -> Result<wire::MessagesRequest<'a>, ConvertError> {
    if req.sampling.n.is_some_and(|n| n > 1) {
        return Err(ConvertError::invalid(
            "n",
            "Anthropic models return one choice; n must be 1",
        ));
    }
    let (system, messages) = build_turns(&req.messages)?;
    let (max_tokens, budget) = plan_tokens(req, opts)?;
    let json_answer = JsonAnswer::of(req, opts);
    let tools = build_tools(req, &json_answer, opts)?;
    let tool_choice = build_tool_choice(req, &json_answer, !tools.is_empty(), budget.is_some());
    let thinking = budget.map(|budget_tokens| wire::Thinking {
        kind: "enabled",
        budget_tokens,
    });
    // With thinking on, Anthropic only accepts the default temperature and a
    // top_p of at least 0.95; Anthropic's temperature range ends at 1.0.
    // Non-finite values (possible from other inbound APIs) are dropped
    // rather than sent as `null`.
    let top_p = req.sampling.top_p.filter(|p| p.is_finite());
    let (temperature, top_p) = match budget {
        Some(_) => (None, top_p.filter(|p| *p >= 0.95)),
        None => (
            req.sampling
                .temperature
                .filter(|t| t.is_finite())
                .map(|t| t.clamp(0.0, 1.0)),
            top_p,
        ),
    };
    let output_config = match json_answer {
        JsonAnswer::Native(schema) => Some(wire::OutputConfig {
            format: wire::OutputFormat {
                kind: "json_schema",
                schema,
            },
        }),
        _ => None,
    };
    // Dropped on purpose, Anthropic has no equivalent: seed,
    // presence_penalty, frequency_penalty.
    Ok(wire::MessagesRequest {
        model: upstream_model,
        max_tokens,
        system,
        messages,
        tools,
        tool_choice,
        thinking,
        output_config,
        temperature,
        top_p,
        stop_sequences: &req.sampling.stop,
        metadata: req
            .user
            .as_deref()
            .map(|user_id| wire::Metadata { user_id }),
        stream: req.stream,
    })
}

/// Hoists system/developer prompts into `system` and folds the rest into
/// user/assistant turns that strictly alternate, as Anthropic requires:
/// consecutive same-role messages merge, and tool results become
/// `tool_result` blocks in a user turn.
fn build_turns(
    messages: &[Message],
) -> Result<(Option<SystemPrompt<'_>>, Vec<Turn<'_>>), ConvertError> {
    let mut system: Vec<&str> = Vec::new();
    let mut turns: Vec<Turn> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        match m.role {
            Role::System | Role::Developer => {
                system.extend(text_parts(m));
            }
            Role::User => push_turn(&mut turns, "user", user_blocks(m)),
            Role::Tool => {
                let tool_use_id = m.tool_call_id.as_deref().ok_or_else(|| {
                    ConvertError::invalid(format!("messages[{i}].tool_call_id"), "is required")
                })?;
                let content = text_parts(m).map(|text| Block::Text { text }).collect();
                push_turn(
                    &mut turns,
                    "user",
                    vec![Block::ToolResult {
                        tool_use_id,
                        content,
                    }],
                );
            }
            Role::Assistant => push_turn(&mut turns, "assistant", assistant_blocks(i, m)?),
        }
    }
    if turns.is_empty() {
        return Err(ConvertError::invalid(
            "messages",
            "needs at least one user or assistant message besides system prompts",
        ));
    }
    let system = match system.len() {
        0 => None,
        1 => Some(SystemPrompt::Text(system[0])),
        _ => Some(SystemPrompt::Blocks(
            system.into_iter().map(TextBlock::new).collect(),
        )),
    };
    Ok((system, turns))
}

/// Non-empty text parts: Anthropic rejects empty text blocks.
fn text_parts(m: &Message) -> impl Iterator<Item = &str> {
    m.content.iter().filter_map(|p| match p {
        ContentPart::Text(t) if !t.is_empty() => Some(t.as_str()),
        _ => None,
    })
}

fn push_turn<'a>(turns: &mut Vec<Turn<'a>>, role: &'static str, blocks: Vec<Block<'a>>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => turns.push(Turn {
            role,
            content: blocks,
        }),
    }
}

fn user_blocks(m: &Message) -> Vec<Block<'_>> {
    m.content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(t) if t.is_empty() => None,
            ContentPart::Text(text) => Some(Block::Text { text }),
            ContentPart::Image(image) => Some(Block::Image {
                source: match &image.source {
                    ImageSource::Url(url) => wire::ImageSource::Url { url },
                    ImageSource::Base64 { media_type, data } => {
                        wire::ImageSource::Base64 { media_type, data }
                    }
                },
            }),
        })
        .collect()
}

/// Reasoning first (Anthropic wants thinking before text and tool use), then
/// text, then tool calls.
fn assistant_blocks(i: usize, m: &Message) -> Result<Vec<Block<'_>>, ConvertError> {
    let mut blocks = Vec::with_capacity(m.reasoning.len() + m.content.len() + m.tool_calls.len());
    for block in &m.reasoning {
        match block {
            // Unsigned reasoning (e.g. replayed from plain `reasoning_content`)
            // would be rejected; without the signature it cannot go back.
            ReasoningBlock::Thought {
                signature: None, ..
            } => {}
            ReasoningBlock::Thought {
                text,
                signature: Some(signature),
            } => blocks.push(Block::Thinking {
                thinking: text,
                signature,
            }),
            ReasoningBlock::Redacted { data } => blocks.push(Block::RedactedThinking { data }),
        }
    }
    blocks.extend(text_parts(m).map(|text| Block::Text { text }));
    for (j, call) in m.tool_calls.iter().enumerate() {
        blocks.push(Block::ToolUse {
            id: &call.id,
            name: &call.name,
            input: parse_arguments(&call.arguments).ok_or_else(|| {
                ConvertError::invalid(
                    format!("messages[{i}].tool_calls[{j}].function.arguments"),
                    "must be a JSON object",
                )
            })?,
        });
    }
    Ok(blocks)
}

/// OpenAI carries arguments as JSON text; Anthropic wants the object,
/// written compactly.
fn parse_arguments(arguments: &str) -> Option<RawJson> {
    if arguments.trim().is_empty() {
        return Some(RawJson::empty_object());
    }
    with_tape(arguments.as_bytes(), |tape, _| {
        let value = tape.ok()?.as_value();
        value.is_object().then(|| RawJson::from_tape(value))
    })
}

/// `(max_tokens, thinking budget)`. Without a client limit the answer keeps
/// the model's default room and thinking is added on top of it.
fn plan_tokens(
    req: &ChatRequest,
    opts: &AnthropicOptions,
) -> Result<(u32, Option<u32>), ConvertError> {
    let budget = req
        .reasoning
        .and_then(|r| r.budget_tokens.or_else(|| r.effort.and_then(effort_budget)))
        .filter(|b| *b > 0)
        .map(|b| b.max(MIN_THINKING_BUDGET));
    let max_tokens = match (req.sampling.max_output_tokens, budget) {
        (Some(max), _) => max,
        (None, Some(b)) => opts.default_max_tokens.saturating_add(b),
        (None, None) => opts.default_max_tokens,
    };
    match budget {
        None => Ok((max_tokens, None)),
        Some(_) if max_tokens <= MIN_THINKING_BUDGET => Err(ConvertError::invalid(
            "max_completion_tokens",
            format!("must exceed {MIN_THINKING_BUDGET} when reasoning is enabled"),
        )),
        // The budget must leave room for the answer itself.
        Some(b) => Ok((max_tokens, Some(b.min(max_tokens - 1)))),
    }
}
