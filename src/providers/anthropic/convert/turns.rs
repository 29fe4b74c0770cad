//! The `messages` array of the Anthropic request, written straight from the
//! canonical conversation: user and assistant turns that strictly alternate
//! (consecutive same-role messages share a turn; tool results ride in a user
//! turn), with reasoning first, then text, then tool use in assistant turns.

use super::ConvertError;
use crate::canonical::json::write_str;
use crate::canonical::raw::write_arguments;
use crate::canonical::{ContentPart, Image, ImageSource, Message, ReasoningBlock, Role};
use crate::providers::turns::Turns;

/// Writes `[{"role":…,"content":[…]},…]`. A message with nothing Anthropic
/// accepts (only empty text) adds no block, so it cannot open a turn.
pub(super) fn write_turns(out: &mut Vec<u8>, messages: &[Message]) -> Result<(), ConvertError> {
    out.push(b'[');
    let mut turns = Turns::new(out, "content");
    for (i, m) in messages.iter().enumerate() {
        match m.role {
            Role::System | Role::Developer => {}
            Role::User => {
                for part in &m.content {
                    match part {
                        ContentPart::Text(t) if t.is_empty() => {}
                        ContentPart::Text(text) => write_text_block(turns.item("user"), text),
                        ContentPart::Image(image) => write_image_block(turns.item("user"), image),
                    }
                }
            }
            Role::Tool => {
                let tool_use_id = m.tool_call_id.as_deref().ok_or_else(|| {
                    ConvertError::invalid(format!("messages[{i}].tool_call_id"), "is required")
                })?;
                write_tool_result(turns.item("user"), tool_use_id, m);
            }
            Role::Assistant => write_assistant(&mut turns, i, m)?,
        }
    }
    if !turns.finish() {
        return Err(ConvertError::invalid(
            "messages",
            "needs at least one user or assistant message besides system prompts",
        ));
    }
    out.push(b']');
    Ok(())
}

/// Non-empty text parts: Anthropic rejects empty text blocks.
pub(super) fn text_parts(m: &Message) -> impl Iterator<Item = &str> {
    m.content.iter().filter_map(|p| match p {
        ContentPart::Text(t) if !t.is_empty() => Some(t.as_str()),
        _ => None,
    })
}

/// `{"type":"text","text":…}`.
pub(super) fn write_text_block(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
    write_str(out, text);
    out.push(b'}');
}

fn write_image_block(out: &mut Vec<u8>, image: &Image) {
    out.extend_from_slice(b"{\"type\":\"image\",\"source\":");
    match &image.source {
        ImageSource::Base64 { media_type, data } => {
            out.extend_from_slice(b"{\"type\":\"base64\",\"media_type\":");
            write_str(out, media_type);
            out.extend_from_slice(b",\"data\":");
            write_str(out, data);
        }
        ImageSource::Url(url) => {
            out.extend_from_slice(b"{\"type\":\"url\",\"url\":");
            write_str(out, url);
        }
    }
    out.extend_from_slice(b"}}");
}

/// A tool result: its text and images (Anthropic takes both there), with
/// `content` left out when the tool returned neither.
fn write_tool_result(out: &mut Vec<u8>, tool_use_id: &str, m: &Message) {
    out.extend_from_slice(b"{\"type\":\"tool_result\",\"tool_use_id\":");
    write_str(out, tool_use_id);
    let mut blocks = m
        .content
        .iter()
        .filter(|p| match p {
            ContentPart::Text(t) => !t.is_empty(),
            ContentPart::Image(_) => true,
        })
        .peekable();
    if blocks.peek().is_some() {
        out.extend_from_slice(b",\"content\":[");
        for (k, part) in blocks.enumerate() {
            if k > 0 {
                out.push(b',');
            }
            match part {
                ContentPart::Text(text) => write_text_block(out, text),
                ContentPart::Image(image) => write_image_block(out, image),
            }
        }
        out.push(b']');
    }
    if m.tool_error {
        out.extend_from_slice(b",\"is_error\":true");
    }
    out.push(b'}');
}

/// Reasoning first (Anthropic wants thinking before text and tool use), then
/// text, then tool calls.
fn write_assistant(turns: &mut Turns<'_>, i: usize, m: &Message) -> Result<(), ConvertError> {
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
            } => {
                let out = turns.item("assistant");
                out.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
                write_str(out, text);
                out.extend_from_slice(b",\"signature\":");
                write_str(out, signature);
                out.push(b'}');
            }
            ReasoningBlock::Redacted { data } => {
                let out = turns.item("assistant");
                out.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
                write_str(out, data);
                out.push(b'}');
            }
        }
    }
    for text in text_parts(m) {
        write_text_block(turns.item("assistant"), text);
    }
    for (j, call) in m.tool_calls.iter().enumerate() {
        let out = turns.item("assistant");
        out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
        write_str(out, &call.id);
        out.extend_from_slice(b",\"name\":");
        write_str(out, &call.name);
        // OpenAI carries arguments as JSON text; Anthropic wants the object.
        out.extend_from_slice(b",\"input\":");
        if !write_arguments(out, &call.arguments) {
            return Err(ConvertError::invalid(
                format!("messages[{i}].tool_calls[{j}].function.arguments"),
                "must be a JSON object",
            ));
        }
        out.push(b'}');
    }
    Ok(())
}
