//! A canonical [`ChatResponse`] written as Anthropic's message object, and
//! the mappings the stream writer shares: finish reason → `stop_reason`,
//! canonical usage → Anthropic usage.

use crate::canonical::json::{write_str, write_u64};
use crate::canonical::raw::write_arguments;
use crate::canonical::{ChatResponse, FinishReason, ReasoningBlock, Usage};

/// Anthropic's `stop_reason` for a canonical finish reason. Which stop
/// sequence matched is not known on the translated path (OpenAI and Gemini
/// do not say), so a stop is always `end_turn`.
pub fn stop_reason(finish: Option<FinishReason>) -> &'static str {
    match finish {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Stop) | None => "end_turn",
    }
}

/// `{"input_tokens":…,"cache_creation_input_tokens":…,"cache_read_input_tokens":…,"output_tokens":…}`.
///
/// Canonical `prompt_tokens` counts cached input (OpenAI's rule);
/// Anthropic's `input_tokens` counts only what was neither read from nor
/// written to the cache.
pub fn write_usage(out: &mut Vec<u8>, usage: &Usage) {
    let input = usage
        .prompt_tokens
        .saturating_sub(usage.cached_prompt_tokens)
        .saturating_sub(usage.cache_creation_tokens);
    out.extend_from_slice(b"{\"input_tokens\":");
    write_u64(out, input);
    out.extend_from_slice(b",\"cache_creation_input_tokens\":");
    write_u64(out, usage.cache_creation_tokens);
    out.extend_from_slice(b",\"cache_read_input_tokens\":");
    write_u64(out, usage.cached_prompt_tokens);
    out.extend_from_slice(b",\"output_tokens\":");
    write_u64(out, usage.completion_tokens);
    out.push(b'}');
}

/// Writes `id` with Anthropic's `msg_` prefix (kept when it has one).
pub(super) fn write_message_id(out: &mut Vec<u8>, id: &str) {
    if id.starts_with("msg_") {
        write_str(out, id);
    } else {
        write_str(out, &format!("msg_{id}"));
    }
}

/// Appends the message object for the first choice of `resp`: reasoning
/// blocks first (as Anthropic orders them), then text (a refusal's text
/// included), then tool calls.
pub fn write_message_response(resp: &ChatResponse, out: &mut Vec<u8>) {
    let choice = resp.choices.first();
    out.extend_from_slice(b"{\"id\":");
    write_message_id(out, &resp.id);
    out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    write_str(out, &resp.model);
    out.extend_from_slice(b",\"content\":[");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    if let Some(message) = choice.map(|c| &c.message) {
        for block in &message.reasoning {
            sep(out);
            write_reasoning_block(out, block);
        }
        for text in [&message.content, &message.refusal].into_iter().flatten() {
            if !text.is_empty() {
                sep(out);
                out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
                write_str(out, text);
                out.push(b'}');
            }
        }
        for call in &message.tool_calls {
            sep(out);
            out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
            write_str(out, &call.id);
            out.extend_from_slice(b",\"name\":");
            write_str(out, &call.name);
            out.extend_from_slice(b",\"input\":");
            write_input(out, &call.arguments);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"],\"stop_reason\":\"");
    out.extend_from_slice(stop_reason(choice.and_then(|c| c.finish_reason)).as_bytes());
    out.extend_from_slice(b"\",\"stop_sequence\":null,\"usage\":");
    write_usage(out, &resp.usage.unwrap_or_default());
    out.push(b'}');
}

/// The message object as a fresh buffer.
pub fn message_response(resp: &ChatResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_message_response(resp, &mut out);
    out
}

fn write_reasoning_block(out: &mut Vec<u8>, block: &ReasoningBlock) {
    match block {
        ReasoningBlock::Thought { text, signature } => {
            out.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
            write_str(out, text);
            out.extend_from_slice(b",\"signature\":");
            write_str(out, signature.as_deref().unwrap_or_default());
            out.push(b'}');
        }
        ReasoningBlock::Redacted { data } => {
            out.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
            write_str(out, data);
            out.push(b'}');
        }
    }
}

/// A tool call's arguments as the `input` object. Arguments that are not a
/// JSON object (a model's malformed output on an OpenAI-format upstream)
/// go out as the JSON string they are, so nothing is lost and a client can
/// see what the model wrote.
fn write_input(out: &mut Vec<u8>, arguments: &str) {
    if !write_arguments(out, arguments) {
        write_str(out, arguments);
    }
}
