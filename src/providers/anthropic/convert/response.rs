//! Anthropic Messages response → canonical response: content blocks, stop
//! reasons, usage, and the forced JSON-answer tool turned back into text.

use simd_json::prelude::Writable;

use super::ConvertError;
use crate::canonical::scratch::with_scratch;
use crate::canonical::{
    AssistantMessage, ChatResponse, Choice, FinishReason, ReasoningBlock, ToolCall, Usage,
};
use crate::providers::anthropic::JSON_ANSWER_TOOL;
use crate::providers::anthropic::wire::{MessagesResponse, ResponseBlock, WireUsage};

/// Parses a successful (2xx) `/v1/messages` body. `created` is left 0 for
/// the caller to stamp; Anthropic does not send one.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let resp: MessagesResponse = with_scratch(body, |input, buffers| {
        simd_json::serde::from_slice_with_buffers(input, buffers)
    })
    .map_err(|e| ConvertError::UpstreamBody(e.to_string()))?;

    let mut message = AssistantMessage::default();
    let mut text = String::new();
    let mut answered_with_json_tool = false;
    for block in resp.content {
        match block {
            ResponseBlock::Text { text: t } => text.push_str(&t),
            ResponseBlock::Thinking {
                thinking,
                signature,
            } => message.reasoning.push(ReasoningBlock::Thought {
                text: thinking,
                signature,
            }),
            ResponseBlock::RedactedThinking { data } => {
                message.reasoning.push(ReasoningBlock::Redacted { data })
            }
            ResponseBlock::ToolUse { name, input, .. } if name == JSON_ANSWER_TOOL => {
                // The forced tool's input is the answer the client asked for;
                // any preamble text the model wrote before it is dropped so
                // the content stays parseable JSON.
                text.clear();
                text.push_str(&input.encode());
                answered_with_json_tool = true;
            }
            ResponseBlock::ToolUse { id, name, input } => message.tool_calls.push(ToolCall {
                id,
                name,
                arguments: input.encode(),
            }),
            ResponseBlock::Unsupported => {}
        }
    }
    if answered_with_json_tool || !text.is_empty() || message.tool_calls.is_empty() {
        message.content = Some(text);
    }
    let finish_reason =
        map_stop_reason(resp.stop_reason.as_deref(), !message.tool_calls.is_empty());
    Ok(ChatResponse {
        id: resp.id,
        model: resp.model,
        created: 0,
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish_reason),
        }],
        usage: Some(map_usage(&resp.usage)),
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
