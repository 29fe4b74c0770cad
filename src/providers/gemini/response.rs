//! Gemini answer → canonical: parts to text, reasoning and tool calls,
//! finish reasons, usage. Shared by the whole-response and stream paths.

use super::convert::{ConvertError, json_text};
use super::ids;
use super::wire::{FunctionCall, GenerateContentResponse, Part, UsageMetadata};
use crate::canonical::{
    AssistantMessage, ChatResponse, Choice, FinishReason, ReasoningBlock, ToolCall, Usage,
};

/// Maps Gemini's `finishReason`. `STOP` with function calls in the answer is
/// `tool_calls`; every safety-style stop is `content_filter`; anything else
/// unusual (`MALFORMED_FUNCTION_CALL`, `OTHER`, …) is a plain `stop`.
pub fn finish_reason(reason: &str, has_tool_calls: bool) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => FinishReason::ContentFilter,
        _ if has_tool_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// OpenAI semantics: `completion_tokens` includes the thinking tokens
/// (Gemini counts them apart, in `thoughtsTokenCount`), which are also
/// reported as `reasoning_tokens`; tool-use prompt tokens count as prompt.
pub fn usage(u: &UsageMetadata) -> Usage {
    let prompt = u.prompt_token_count + u.tool_use_prompt_token_count;
    let completion = u.candidates_token_count + u.thoughts_token_count;
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: if u.total_token_count > 0 {
            u.total_token_count
        } else {
            prompt + completion
        },
        cached_prompt_tokens: u.cached_content_token_count,
        cache_creation_tokens: 0,
        reasoning_tokens: u.thoughts_token_count,
    }
}

/// The OpenAI tool call for a whole Gemini `functionCall`, the
/// `ordinal`-th call of the answer (see `ids` for the id layout).
pub fn tool_call(
    response_id: &str,
    ordinal: u32,
    call: &FunctionCall,
    signature: Option<&str>,
) -> ToolCall {
    let name = call.name.clone().unwrap_or_default();
    ToolCall {
        id: tool_call_id(response_id, ordinal, call, signature),
        arguments: call
            .args
            .as_ref()
            .map_or_else(|| "{}".to_owned(), json_text),
        name,
    }
}

pub fn tool_call_id(
    response_id: &str,
    ordinal: u32,
    call: &FunctionCall,
    signature: Option<&str>,
) -> String {
    let name = call.name.as_deref().unwrap_or_default();
    let key = ids::call_key(response_id, ordinal, name);
    ids::encode(key, call.id.as_deref(), signature)
}

/// A text part's role in the answer.
pub enum TextKind<'a> {
    Answer(&'a str),
    Thought(&'a str),
}

/// The text a part carries, if any (empty text is none).
pub fn text_of(part: &Part) -> Option<TextKind<'_>> {
    let text = part.text.as_deref().filter(|t| !t.is_empty())?;
    Some(if part.thought == Some(true) {
        TextKind::Thought(text)
    } else {
        TextKind::Answer(text)
    })
}

/// The OpenAI response id for a Gemini `responseId`.
pub fn completion_id(response_id: Option<&str>) -> String {
    format!("chatcmpl-{}", response_id.unwrap_or("gemini"))
}

pub fn to_chat_response(resp: GenerateContentResponse) -> Result<ChatResponse, ConvertError> {
    if let Some(err) = resp.error {
        return Err(ConvertError::BadResponse(
            err.message
                .unwrap_or_else(|| "error object in a 200 answer".into()),
        ));
    }
    let response_id = resp.response_id.as_deref().unwrap_or_default();
    let mut choices = Vec::with_capacity(resp.candidates.len().max(1));
    if let Some(reason) = resp
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_deref())
    {
        choices.push(Choice {
            index: 0,
            message: AssistantMessage {
                content: Some(String::new()),
                refusal: Some(format!("Gemini blocked the prompt ({reason})")),
                ..AssistantMessage::default()
            },
            finish_reason: Some(FinishReason::ContentFilter),
        });
    } else if resp.candidates.is_empty() {
        return Err(ConvertError::BadResponse("no candidates".into()));
    }
    // Ordinals run across candidates so every id in the answer is distinct.
    let mut ordinal = 0u32;
    for (i, cand) in resp.candidates.iter().enumerate() {
        let mut message = AssistantMessage::default();
        let mut text = String::new();
        let parts = cand.content.as_ref().map_or(&[][..], |c| &c.parts[..]);
        for part in parts {
            if let Some(call) = &part.function_call {
                let sig = part.thought_signature.as_deref();
                message
                    .tool_calls
                    .push(tool_call(response_id, ordinal, call, sig));
                ordinal += 1;
                continue;
            }
            match text_of(part) {
                Some(TextKind::Answer(t)) => text.push_str(t),
                Some(TextKind::Thought(t)) => push_thought(&mut message.reasoning, t),
                None => {}
            }
        }
        let has_calls = !message.tool_calls.is_empty();
        message.content = (!text.is_empty() || !has_calls).then_some(text);
        let reason = cand.finish_reason.as_deref().unwrap_or("STOP");
        choices.push(Choice {
            index: cand.index.unwrap_or(i as u32),
            message,
            finish_reason: Some(finish_reason(reason, has_calls)),
        });
    }
    Ok(ChatResponse {
        id: completion_id(resp.response_id.as_deref()),
        model: resp.model_version.unwrap_or_default(),
        created: 0,
        choices,
        usage: resp.usage_metadata.as_ref().map(usage),
    })
}

/// Consecutive thought parts form one reasoning block. Gemini's thought
/// signatures are not exposed here: the one that matters (on a function
/// call) travels in the tool-call id; those on text parts are optional.
fn push_thought(blocks: &mut Vec<ReasoningBlock>, text: &str) {
    if let Some(ReasoningBlock::Thought { text: t, .. }) = blocks.last_mut() {
        t.push_str(text);
        return;
    }
    blocks.push(ReasoningBlock::Thought {
        text: text.to_owned(),
        signature: None,
    });
}
