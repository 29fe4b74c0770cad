//! Anthropic Messages response → canonical response: content blocks, stop
//! reasons, usage, and the forced JSON-answer tool turned back into text.
//!
//! The body is read off simd-json's tape over the worker's scratch buffers
//! (like the client's request), so only the strings the answer keeps are
//! copied. Block types this API cannot express (server tools, citations)
//! are skipped; a known block missing a required field is an unreadable answer.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use super::ConvertError;
use crate::canonical::tape::with_tape;
use crate::canonical::{
    AssistantMessage, ChatResponse, Choice, FinishReason, RawJson, ReasoningBlock, ToolCall, Usage,
};
use crate::providers::anthropic::JSON_ANSWER_TOOL;
use crate::providers::anthropic::wire::{OutputTokensDetails, WireUsage};

crate::tape_fields! {
    struct AnswerFields {
        id: "id",
        model: "model",
        content: "content",
        stop_reason: "stop_reason",
        usage: "usage",
    }
}

crate::tape_fields! {
    struct BlockFields {
        kind: "type",
        text: "text",
        thinking: "thinking",
        signature: "signature",
        data: "data",
        id: "id",
        name: "name",
        input: "input",
    }
}

crate::tape_fields! {
    struct UsageFields {
        input_tokens: "input_tokens",
        output_tokens: "output_tokens",
        cache_creation_input_tokens: "cache_creation_input_tokens",
        cache_read_input_tokens: "cache_read_input_tokens",
        output_tokens_details: "output_tokens_details",
    }
}

crate::tape_fields! {
    struct DetailFields { thinking_tokens: "thinking_tokens" }
}

/// Parses a successful (2xx) `/v1/messages` body. `created` is left 0 for
/// the caller to stamp; Anthropic does not send one.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    with_tape(body, |tape, _| {
        let tape = tape.map_err(|e| unreadable(e.to_string()))?;
        read_answer(tape.as_value())
    })
}

fn unreadable(why: impl Into<String>) -> ConvertError {
    ConvertError::UpstreamBody(why.into())
}

fn read_answer(root: Value<'_, '_>) -> Result<ChatResponse, ConvertError> {
    let answer = AnswerFields::read(
        &root
            .as_object()
            .ok_or_else(|| unreadable("the answer is not a JSON object"))?,
    );
    let id = required_str(answer.id, "id")?.to_owned();
    let model = required_str(answer.model, "model")?.to_owned();
    let stop_reason = optional_str(answer.stop_reason, "stop_reason")?;
    let usage = match answer.usage.filter(|u| !u.is_null()) {
        None => WireUsage::default(),
        Some(u) => read_usage(u).map_err(|field| unreadable(format!("`{field}` is malformed")))?,
    };

    let mut message = AssistantMessage::default();
    let mut text = String::new();
    let mut answered_with_json_tool = false;
    let blocks = match answer.content.filter(|c| !c.is_null()) {
        None => None,
        Some(c) => Some(
            c.as_array()
                .ok_or_else(|| unreadable("`content` is not an array"))?,
        ),
    };
    for block in blocks.iter().flat_map(|b| b.iter()) {
        let b = BlockFields::read(
            &block
                .as_object()
                .ok_or_else(|| unreadable("a content block is not an object"))?,
        );
        match required_str(b.kind, "type")? {
            "text" => text.push_str(required_str(b.text, "text")?),
            "thinking" => message.reasoning.push(ReasoningBlock::Thought {
                text: required_str(b.thinking, "thinking")?.to_owned(),
                signature: optional_str(b.signature, "signature")?.map(str::to_owned),
            }),
            "redacted_thinking" => message.reasoning.push(ReasoningBlock::Redacted {
                data: required_str(b.data, "data")?.to_owned(),
            }),
            "tool_use" => {
                let id = required_str(b.id, "id")?;
                let name = required_str(b.name, "name")?;
                let input = b.input.ok_or_else(|| unreadable("missing field `input`"))?;
                let input = RawJson::from_tape(input).into_string();
                if name == JSON_ANSWER_TOOL {
                    // The forced tool's input is the answer the client asked
                    // for; any preamble text the model wrote before it is
                    // dropped so the content stays parseable JSON.
                    text = input;
                    answered_with_json_tool = true;
                } else {
                    message.tool_calls.push(ToolCall {
                        id: id.to_owned(),
                        name: name.to_owned(),
                        arguments: input,
                    });
                }
            }
            // Server tools, citations-only blocks and whatever comes next:
            // not expressible in Chat Completions.
            _ => {}
        }
    }
    if answered_with_json_tool || !text.is_empty() || message.tool_calls.is_empty() {
        message.content = Some(text);
    }
    let finish_reason = map_stop_reason(stop_reason, !message.tool_calls.is_empty());
    Ok(ChatResponse {
        id,
        model,
        created: 0,
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish_reason),
        }],
        usage: Some(map_usage(&usage)),
    })
}

fn required_str<'i>(value: Option<Value<'_, 'i>>, key: &str) -> Result<&'i str, ConvertError> {
    optional_str(value, key)?.ok_or_else(|| unreadable(format!("missing field `{key}`")))
}

/// A string, or `None` when absent or `null`.
fn optional_str<'i>(
    value: Option<Value<'_, 'i>>,
    key: &str,
) -> Result<Option<&'i str>, ConvertError> {
    match value.filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .ok_or_else(|| unreadable(format!("`{key}` is not a string"))),
    }
}

/// `usage` (the stream's events carry the same shape); `Err` names the
/// malformed field.
fn read_usage(value: Value<'_, '_>) -> Result<WireUsage, &'static str> {
    let u = UsageFields::read(&value.as_object().ok_or("usage")?);
    let count = |v: Option<Value<'_, '_>>, key: &'static str| match v.filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(n) => n.as_u64().map(Some).ok_or(key),
    };
    let details = match u.output_tokens_details.filter(|v| !v.is_null()) {
        None => None,
        Some(d) => {
            let d = DetailFields::read(&d.as_object().ok_or("usage.output_tokens_details")?);
            Some(OutputTokensDetails {
                thinking_tokens: count(
                    d.thinking_tokens,
                    "usage.output_tokens_details.thinking_tokens",
                )?,
            })
        }
    };
    Ok(WireUsage {
        input_tokens: count(u.input_tokens, "usage.input_tokens")?,
        output_tokens: count(u.output_tokens, "usage.output_tokens")?,
        cache_creation_input_tokens: count(
            u.cache_creation_input_tokens,
            "usage.cache_creation_input_tokens",
        )?,
        cache_read_input_tokens: count(u.cache_read_input_tokens, "usage.cache_read_input_tokens")?,
        output_tokens_details: details,
    })
}

/// Anthropic stop reason → OpenAI finish reason. `tool_use` only counts as
/// `tool_calls` when the client actually got tool calls (the forced JSON
/// tool is an answer, not a call).
pub fn map_stop_reason(stop_reason: Option<&str>, called_tools: bool) -> FinishReason {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => FinishReason::Length,
        Some("refusal") => FinishReason::ContentFilter,
        _ if called_tools => FinishReason::ToolCalls,
        // end_turn, stop_sequence, pause_turn, tool_use of the JSON tool.
        _ => FinishReason::Stop,
    }
}

/// Anthropic usage → OpenAI usage.
///
/// Anthropic's `input_tokens` excludes cache reads and cache writes; OpenAI's
/// `prompt_tokens` counts every input token, cached or not. So
/// `prompt_tokens = input + cache_read + cache_creation`, with
/// `cached_prompt_tokens = cache_read` (OpenAI's `cached_tokens`) and
/// `cache_creation_tokens = cache_creation` reported on the side.
pub fn map_usage(u: &WireUsage) -> Usage {
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    let cache_creation = u.cache_creation_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens.unwrap_or(0) + cache_read + cache_creation;
    let completion = u.output_tokens.unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_prompt_tokens: cache_read,
        cache_creation_tokens: cache_creation,
        reasoning_tokens: u
            .output_tokens_details
            .and_then(|d| d.thinking_tokens)
            .unwrap_or(0),
    }
}
