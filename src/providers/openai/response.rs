//! An OpenAI-compatible `chat.completion` body → canonical [`ChatResponse`],
//! read off simd-json's tape. Besides OpenAI's own fields it reads what the
//! compatible family adds: `reasoning_content` (DeepSeek, vLLM, Qwen) or
//! `reasoning` (OpenRouter, Ollama), `thinking_blocks` (LiteLLM-style
//! gateways), DeepSeek's `prompt_cache_hit_tokens`, and arguments sent as
//! an object instead of a string.

use simd_json::tape::Value;

use super::error::error_from_value;
use crate::api::ApiError;
use crate::canonical::raw::RawJson;
use crate::canonical::tape::prelude::*;
use crate::canonical::tape::{member, with_tape};
use crate::canonical::{
    AssistantMessage, ChatResponse, Choice, FinishReason, ReasoningBlock, ToolCall, Usage,
};

crate::tape_fields! {
    struct Top { id: "id", model: "model", created: "created", choices: "choices", usage: "usage", error: "error" }
}

crate::tape_fields! {
    struct ChoiceFields { index: "index", message: "message", finish_reason: "finish_reason" }
}

crate::tape_fields! {
    pub(super) struct MessageFields {
        content: "content",
        refusal: "refusal",
        tool_calls: "tool_calls",
        reasoning_content: "reasoning_content",
        reasoning: "reasoning",
        thinking_blocks: "thinking_blocks",
    }
}

/// Parses a whole answer. A body that is not a completion (not JSON, no
/// `choices`) is a 502; a 200 carrying `{"error":…}` (some compatible
/// servers do that) is that error.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ApiError> {
    with_tape(body, |parsed, _| {
        let tape = parsed.map_err(|e| bad_body(format!("not JSON: {e}")))?;
        let obj = tape
            .as_value()
            .as_object()
            .ok_or_else(|| bad_body("not a JSON object".into()))?;
        let top = Top::read(&obj);
        if let Some(error) = top.error.filter(|e| !e.is_null()) {
            return Err(error_from_value(502, error));
        }
        let items = top
            .choices
            .and_then(|c| c.as_array())
            .ok_or_else(|| bad_body("no choices".into()))?;
        let mut choices = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let c = ChoiceFields::read(
                &item
                    .as_object()
                    .ok_or_else(|| bad_body(format!("choices[{i}] is not an object")))?,
            );
            let message = match c.message.and_then(|m| m.as_object()) {
                Some(m) => read_message(&MessageFields::read(&m)),
                None => AssistantMessage::default(),
            };
            choices.push(Choice {
                index: c
                    .index
                    .and_then(|v| v.as_u64())
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(i as u32),
                message,
                finish_reason: c
                    .finish_reason
                    .and_then(|f| f.into_string())
                    .map(finish_reason),
            });
        }
        Ok(ChatResponse {
            id: str_of(top.id),
            model: str_of(top.model),
            created: top.created.and_then(|v| v.as_u64()).unwrap_or(0),
            choices,
            usage: top.usage.filter(|u| u.is_object()).map(read_usage),
        })
    })
}

fn read_message(m: &MessageFields<'_, '_>) -> AssistantMessage {
    AssistantMessage {
        content: m.content.and_then(content_text),
        refusal: m.refusal.and_then(|r| r.into_string()).map(str::to_owned),
        tool_calls: m
            .tool_calls
            .and_then(|calls| calls.as_array())
            .map(|calls| calls.iter().filter_map(read_tool_call).collect())
            .unwrap_or_default(),
        reasoning: read_reasoning(m),
    }
}

/// A string, or the text parts of an array some servers send instead.
fn content_text(content: Value<'_, '_>) -> Option<String> {
    if let Some(s) = content.as_str() {
        return Some(s.to_owned());
    }
    let parts = content.as_array()?;
    let text: String = parts
        .iter()
        .filter_map(|p| member(p, "text").and_then(|t| t.into_string()))
        .collect();
    Some(text)
}

fn read_tool_call(call: Value<'_, '_>) -> Option<ToolCall> {
    let function = member(call, "function")?;
    Some(ToolCall {
        id: member(call, "id")
            .and_then(|v| v.into_string())
            .unwrap_or_default()
            .to_owned(),
        name: member(function, "name")?.into_string()?.to_owned(),
        arguments: arguments_text(member(function, "arguments")),
    })
}

/// Arguments as JSON text: OpenAI sends a string; a few servers send the
/// object itself, which is written compact.
pub(super) fn arguments_text(value: Option<Value<'_, '_>>) -> String {
    match value {
        None => String::new(),
        Some(v) if v.is_null() => String::new(),
        Some(v) => match v.as_str() {
            Some(s) => s.to_owned(),
            None => RawJson::from_tape(v).into_string(),
        },
    }
}

/// `thinking_blocks` (with signatures) when present, else the plain text of
/// `reasoning_content` / `reasoning` as one unsigned block.
fn read_reasoning(m: &MessageFields<'_, '_>) -> Vec<ReasoningBlock> {
    if let Some(blocks) = m.thinking_blocks.and_then(|b| b.as_array()) {
        let read = |b: Value<'_, '_>| {
            let text = |key| member(b, key).and_then(|v| v.into_string());
            match text("type")? {
                "thinking" => Some(ReasoningBlock::Thought {
                    text: text("thinking").unwrap_or_default().to_owned(),
                    signature: text("signature").map(str::to_owned),
                }),
                "redacted_thinking" => Some(ReasoningBlock::Redacted {
                    data: text("data")?.to_owned(),
                }),
                _ => None,
            }
        };
        let blocks: Vec<_> = blocks.iter().filter_map(read).collect();
        if !blocks.is_empty() {
            return blocks;
        }
    }
    m.reasoning_content
        .or(m.reasoning)
        .and_then(|r| r.into_string())
        .filter(|t| !t.is_empty())
        .map(|text| {
            vec![ReasoningBlock::Thought {
                text: text.to_owned(),
                signature: None,
            }]
        })
        .unwrap_or_default()
}

crate::tape_fields! {
    struct UsageFields {
        prompt: "prompt_tokens",
        completion: "completion_tokens",
        total: "total_tokens",
        prompt_details: "prompt_tokens_details",
        completion_details: "completion_tokens_details",
        cache_hit: "prompt_cache_hit_tokens",
    }
}

/// OpenAI's usage is already the canonical meaning (`prompt_tokens`
/// includes cached input).
pub(super) fn read_usage(value: Value<'_, '_>) -> Usage {
    let Some(obj) = value.as_object() else {
        return Usage::default();
    };
    let u = UsageFields::read(&obj);
    let num = |v: Option<Value<'_, '_>>| v.and_then(|v| v.as_u64()).unwrap_or(0);
    let prompt = num(u.prompt);
    let completion = num(u.completion);
    let cached = u
        .prompt_details
        .and_then(|d| member(d, "cached_tokens"))
        .or(u.cache_hit);
    let creation = u
        .prompt_details
        .and_then(|d| member(d, "cache_creation_tokens"));
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: u
            .total
            .and_then(|v| v.as_u64())
            .unwrap_or(prompt + completion),
        cached_prompt_tokens: num(cached),
        cache_creation_tokens: num(creation),
        reasoning_tokens: num(u
            .completion_details
            .and_then(|d| member(d, "reasoning_tokens"))),
    }
}

/// OpenAI's finish reasons, plus the legacy `function_call`. Anything else
/// a compatible server invents (`eos`, `abort`…) reads as a plain stop.
pub(super) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

fn str_of(value: Option<Value<'_, '_>>) -> String {
    value
        .and_then(|v| v.into_string())
        .unwrap_or_default()
        .to_owned()
}

fn bad_body(detail: String) -> ApiError {
    ApiError::coded(
        502,
        "server_error",
        "bad_upstream_response",
        format!("unreadable response from the provider: {detail}"),
    )
}
