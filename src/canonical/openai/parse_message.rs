//! Parses one entry of an OpenAI `messages` array: roles, multi-part content,
//! images (URL or `data:` URL), tool calls, tool results and replayed reasoning.
//!
//! Field paths for errors are passed as closures (`&dyn Fn() -> String`) and
//! rendered only when a field is actually wrong.

use simd_json::prelude::*;
use simd_json::tape::Value;

use super::tape::{Obj, field, join, take_str};
use crate::canonical::{
    CanonicalError, ContentPart, Image, ImageSource, Message, ReasoningBlock, Role, ToolCall,
};

type Path<'a> = &'a dyn Fn() -> String;

pub(super) fn parse_message(i: usize, value: Value<'_, '_>) -> Result<Message, CanonicalError> {
    let path = || format!("messages[{i}]");
    let at = |field: &str| format!("messages[{i}].{field}");
    let obj = &value
        .as_object()
        .ok_or_else(|| CanonicalError::new(path(), "must be an object"))?;
    let role = match field(obj, "role").and_then(|r| r.into_string()) {
        Some("system") => Role::System,
        Some("developer") => Role::Developer,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        Some(_) => {
            return Err(CanonicalError::new(
                at("role"),
                "must be one of system, developer, user, assistant, tool",
            ));
        }
        None => return Err(CanonicalError::new(at("role"), "is required")),
    };
    let content = parse_content(field(obj, "content"), role, &|| at("content"))?;
    let mut message = Message::new(role, content);
    message.name = take_str(obj, "name", &path)?;
    match role {
        Role::Assistant => {
            message.tool_calls = parse_tool_calls(obj, &|| at("tool_calls"))?;
            message.reasoning = parse_reasoning_blocks(obj, &path)?;
            if message.content.is_empty()
                && message.tool_calls.is_empty()
                && message.reasoning.is_empty()
            {
                return Err(CanonicalError::new(
                    at("content"),
                    "is required unless tool_calls is set",
                ));
            }
        }
        Role::Tool => {
            message.tool_call_id = Some(
                take_str(obj, "tool_call_id", &path)?
                    .ok_or_else(|| CanonicalError::new(at("tool_call_id"), "is required"))?,
            );
        }
        Role::System | Role::Developer | Role::User => {
            if message.content.is_empty() {
                return Err(CanonicalError::new(at("content"), "is required"));
            }
        }
    }
    Ok(message)
}

fn parse_content(
    value: Option<Value<'_, '_>>,
    role: Role,
    path: Path,
) -> Result<Vec<ContentPart>, CanonicalError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let parts = match (value.as_str(), value.as_array()) {
        // An empty assistant string next to tool calls means "no text".
        (Some(""), _) if role == Role::Assistant => return Ok(Vec::new()),
        (Some(s), _) => return Ok(vec![ContentPart::Text(s.to_owned())]),
        (None, Some(parts)) => parts,
        (None, None) => {
            return Err(CanonicalError::new(
                path(),
                "must be a string or an array of content parts",
            ));
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let part_path = || format!("{}[{j}]", path());
        let at = |field: &str| join(&part_path(), field);
        let obj = &part
            .as_object()
            .ok_or_else(|| CanonicalError::new(part_path(), "must be an object"))?;
        let kind = field(obj, "type")
            .and_then(|t| t.into_string())
            .unwrap_or("");
        match kind {
            "text" => {
                let text = take_str(obj, "text", &part_path)?
                    .ok_or_else(|| CanonicalError::new(at("text"), "is required"))?;
                out.push(ContentPart::Text(text));
            }
            // A refusal replayed in history is just what the assistant said.
            "refusal" if role == Role::Assistant => {
                if let Some(text) = take_str(obj, "refusal", &part_path)? {
                    out.push(ContentPart::Text(text));
                }
            }
            "image_url" if matches!(role, Role::User) => {
                out.push(ContentPart::Image(parse_image(obj, &|| at("image_url"))?));
            }
            "image_url" => {
                return Err(CanonicalError::new(
                    at("type"),
                    "images are only allowed in user messages",
                ));
            }
            _ => {
                return Err(CanonicalError::new(
                    at("type"),
                    format!("unsupported content part type {kind:?}"),
                ));
            }
        }
    }
    Ok(out)
}

fn parse_image(obj: &Obj<'_, '_>, path: Path) -> Result<Image, CanonicalError> {
    let url_path = || join(&path(), "url");
    let image =
        field(obj, "image_url").ok_or_else(|| CanonicalError::new(path(), "is required"))?;
    let image = &image
        .as_object()
        .ok_or_else(|| CanonicalError::new(path(), "must be an object"))?;
    let url = take_str(image, "url", path)?
        .ok_or_else(|| CanonicalError::new(url_path(), "is required"))?;
    let detail = take_str(image, "detail", path)?;
    let source = match url.strip_prefix("data:") {
        Some(rest) => {
            let (meta, data) = rest
                .split_once(',')
                .ok_or_else(|| CanonicalError::new(url_path(), "data URL has no ',' separator"))?;
            let media_type = meta.strip_suffix(";base64").ok_or_else(|| {
                CanonicalError::new(url_path(), "data URL must be base64-encoded")
            })?;
            ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            }
        }
        None => ImageSource::Url(url),
    };
    Ok(Image { source, detail })
}

fn parse_tool_calls(obj: &Obj<'_, '_>, path: Path) -> Result<Vec<ToolCall>, CanonicalError> {
    let items = match field(obj, "tool_calls") {
        None => return Ok(Vec::new()),
        Some(v) if v.is_null() => return Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .ok_or_else(|| CanonicalError::new(path(), "must be an array"))?,
    };
    let mut calls = Vec::with_capacity(items.len());
    for (k, call) in items.iter().enumerate() {
        let call_path = || format!("{}[{k}]", path());
        let function_path = || join(&call_path(), "function");
        let obj = &call
            .as_object()
            .ok_or_else(|| CanonicalError::new(call_path(), "must be an object"))?;
        let id = take_str(obj, "id", &call_path)?
            .ok_or_else(|| CanonicalError::new(join(&call_path(), "id"), "is required"))?;
        let function = field(obj, "function")
            .ok_or_else(|| CanonicalError::new(function_path(), "is required"))?;
        let f = &function
            .as_object()
            .ok_or_else(|| CanonicalError::new(function_path(), "must be an object"))?;
        let name = take_str(f, "name", &function_path)?
            .ok_or_else(|| CanonicalError::new(join(&function_path(), "name"), "is required"))?;
        let arguments = take_str(f, "arguments", &function_path)?.unwrap_or_default();
        calls.push(ToolCall {
            id,
            name,
            arguments,
        });
    }
    Ok(calls)
}

/// Reasoning a client replays: `thinking_blocks` (with signatures) wins over
/// the plain `reasoning_content` text, which carries no signature.
fn parse_reasoning_blocks(
    obj: &Obj<'_, '_>,
    path: Path,
) -> Result<Vec<ReasoningBlock>, CanonicalError> {
    let blocks_path = || join(&path(), "thinking_blocks");
    match field(obj, "thinking_blocks").filter(|v| !v.is_null()) {
        None => {}
        Some(v) => {
            let items = v
                .as_array()
                .ok_or_else(|| CanonicalError::new(blocks_path(), "must be an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for (k, block) in items.iter().enumerate() {
                let at = || format!("{}[{k}]", blocks_path());
                let b = &block
                    .as_object()
                    .ok_or_else(|| CanonicalError::new(at(), "must be an object"))?;
                match field(b, "type").and_then(|t| t.into_string()) {
                    Some("thinking") => out.push(ReasoningBlock::Thought {
                        text: take_str(b, "thinking", &at)?.unwrap_or_default(),
                        signature: take_str(b, "signature", &at)?,
                    }),
                    Some("redacted_thinking") => out.push(ReasoningBlock::Redacted {
                        data: take_str(b, "data", &at)?.ok_or_else(|| {
                            CanonicalError::new(join(&at(), "data"), "is required")
                        })?,
                    }),
                    _ => {
                        return Err(CanonicalError::new(
                            join(&at(), "type"),
                            "must be \"thinking\" or \"redacted_thinking\"",
                        ));
                    }
                }
            }
            return Ok(out);
        }
    }
    Ok(take_str(obj, "reasoning_content", path)?
        .filter(|t| !t.is_empty())
        .map(|text| {
            vec![ReasoningBlock::Thought {
                text,
                signature: None,
            }]
        })
        .unwrap_or_default())
}
