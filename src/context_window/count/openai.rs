//! OpenAI's prompt-token rule for Chat Completions, as the OpenAI cookbook
//! ("How to count tokens with tiktoken") reverse-engineered it and checked
//! against the API's `usage.prompt_tokens`:
//!
//! - every message costs 3 tokens, plus the tokens of each of its string
//!   fields (role, content, name), plus 1 if it has a name; every reply is
//!   primed with 3 more (`<|start|>assistant<|message|>`);
//! - tool calls of an assistant message and a tool message's
//!   `tool_call_id` are string fields too, counted the same way (each call
//!   as its `id`, `type`, `function.name` and `function.arguments`, as the
//!   cookbook's tool-call variant counts them);
//! - tools (`num_tokens_for_tools`): per function `func_init` (7 for
//!   o200k models, 10 for cl100k ones) plus the tokens of
//!   `name:description` (one trailing `.` dropped); if it has properties,
//!   `prop_init` (3), and per property `prop_key` (3) plus the tokens of
//!   `key:type:description`, and for an `enum`, `enum_init` (−3) plus per
//!   item `enum_item` (3) and its tokens; `func_end` (12) once for all.
//!   The cookbook reads only top-level properties; we also count a nested
//!   object's properties the same way (an extension: the cookbook would
//!   undercount them), and a type or enum item that is not a string by its
//!   JSON text.
//! - images: `image::ImageRule::OpenAiTiles`;
//! - replayed reasoning blocks count nothing: Chat Completions takes no
//!   reasoning back, so the OpenAI adapter does not send them.
//!
//! The cookbook's published checks hold here: 124 (o200k) and 129 (cl100k)
//! tokens for its six-message example, 101 and 105 with its weather tool.

use simd_json::OwnedValue;
use simd_json::prelude::*;

use super::image::ImageRule;
use super::tokenizers::TextCounter;
use crate::canonical::{ContentPart, Message, ToolDefinition};

pub const TOKENS_PER_MESSAGE: u32 = 3;
pub const TOKENS_PER_NAME: u32 = 1;
pub const REPLY_PRIMING: u32 = 3;
pub const PROP_INIT: u32 = 3;
pub const PROP_KEY: u32 = 3;
pub const ENUM_INIT: i64 = -3;
pub const ENUM_ITEM: u32 = 3;
pub const FUNC_END: u32 = 12;

/// One message, by the cookbook rule.
pub fn message(text: TextCounter, message: &Message) -> u32 {
    let mut n = TOKENS_PER_MESSAGE + text.count(message.role.as_str());
    for part in &message.content {
        n = n.saturating_add(match part {
            ContentPart::Text(t) => text.count(t),
            ContentPart::Image(image) => ImageRule::OpenAiTiles.tokens(image),
        });
    }
    if let Some(name) = &message.name {
        n = n.saturating_add(text.count(name) + TOKENS_PER_NAME);
    }
    for call in &message.tool_calls {
        n = n
            .saturating_add(text.count(&call.id))
            .saturating_add(text.count("function"))
            .saturating_add(text.count(&call.name))
            .saturating_add(text.count(&call.arguments));
    }
    if let Some(id) = &message.tool_call_id {
        n = n.saturating_add(text.count(id));
    }
    n
}

/// The tools of a request, by `num_tokens_for_tools`; `func_init` is the
/// family's (7 for o200k, 10 for cl100k).
pub fn tools(text: TextCounter, func_init: u32, tools: &[ToolDefinition]) -> u32 {
    if tools.is_empty() {
        return 0;
    }
    let mut n: i64 = i64::from(FUNC_END);
    for tool in tools {
        n += i64::from(func_init);
        let description = tool.description.as_deref().unwrap_or("");
        let line = format!("{}:{}", tool.name, strip_dot(description));
        n += i64::from(text.count(&line));
        if let Some(schema) = &tool.parameters {
            n += properties(text, &schema.to_value());
        }
    }
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// `prop_init` and each property of an object schema (nested objects too).
fn properties(text: TextCounter, schema: &OwnedValue) -> i64 {
    let Some(props) = schema.get("properties").and_then(|p| p.as_object()) else {
        return 0;
    };
    if props.is_empty() {
        return 0;
    }
    let mut n = i64::from(PROP_INIT);
    for (key, prop) in props.iter() {
        n += i64::from(PROP_KEY);
        if let Some(items) = prop.get("enum").and_then(|e| e.as_array()) {
            n += ENUM_INIT;
            for item in items {
                n += i64::from(ENUM_ITEM) + i64::from(text.count(&scalar_text(item)));
            }
        }
        let kind = prop.get("type").map(scalar_text).unwrap_or_default();
        let desc = prop
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or("");
        let line = format!("{key}:{kind}:{}", strip_dot(desc));
        n += i64::from(text.count(&line));
        n += properties(text, prop);
    }
    n
}

/// A string as itself, anything else as its compact JSON text.
fn scalar_text(value: &OwnedValue) -> String {
    match value.as_str() {
        Some(s) => s.to_owned(),
        None => {
            let mut out = Vec::new();
            crate::canonical::json::write_value(&mut out, value);
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

fn strip_dot(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}
