//! Parses one entry of an OpenAI `messages` array: roles, multi-part content,
//! images (URL or `data:` URL), tool calls, tool results and replayed reasoning.
//!
//! Field paths for errors are passed as closures (`&dyn Fn() -> String`) and
//! rendered only when a field is actually wrong.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use super::read::{join, present, take_str};
use crate::canonical::{
    CanonicalError, ContentPart, Image, ImageSource, Message, Parts, ReasoningBlock, Role, ToolCall,
};

type Path<'a> = &'a dyn Fn() -> String;

crate::tape_fields! {
    struct MessageFields {
        role: "role",
        content: "content",
        name: "name",
        tool_calls: "tool_calls",
        tool_call_id: "tool_call_id",
        thinking_blocks: "thinking_blocks",
        reasoning_content: "reasoning_content",
    }
}

pub(super) fn parse_message(i: usize, value: Value<'_, '_>) -> Result<Message, CanonicalError> {
    let path = || format!("messages[{i}]");
    let at = |field: &str| format!("messages[{i}].{field}");
    let m = MessageFields::read(
        &value
            .as_object()
            .ok_or_else(|| CanonicalError::new(path(), "must be an object"))?,
    );
    let role = match m.role.and_then(|r| r.into_string()) {
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
    let content = parse_content(m.content, role, &|| at("content"))?;
    let mut message = Message::new(role, content);
    message.name = take_str(m.name, "name", &path)?;
    match role {
        Role::Assistant => {
            message.tool_calls = parse_tool_calls(m.tool_calls, &|| at("tool_calls"))?;
            message.reasoning = parse_reasoning_blocks(&m, &path)?;
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
                take_str(m.tool_call_id, "tool_call_id", &path)?
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
) -> Result<Parts, CanonicalError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Parts::default());
    };
    let parts = match (value.as_str(), value.as_array()) {
        // An empty assistant string next to tool calls means "no text".
        (Some(""), _) if role == Role::Assistant => return Ok(Parts::default()),
        (Some(s), _) => return Ok(Parts::one(ContentPart::Text(s.to_owned()))),
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
        let p = PartFields::read(
            &part
                .as_object()
                .ok_or_else(|| CanonicalError::new(part_path(), "must be an object"))?,
        );
        let kind = p.kind.and_then(|t| t.into_string()).unwrap_or("");
        match kind {
            "text" => {
                let text = take_str(p.text, "text", &part_path)?
                    .ok_or_else(|| CanonicalError::new(at("text"), "is required"))?;
                out.push(ContentPart::Text(text));
            }
            // A refusal replayed in history is just what the assistant said.
            "refusal" if role == Role::Assistant => {
                if let Some(text) = take_str(p.refusal, "refusal", &part_path)? {
                    out.push(ContentPart::Text(text));
                }
            }
            "image_url" if matches!(role, Role::User) => {
                out.push(ContentPart::Image(Box::new(parse_image(
                    p.image_url,
                    &|| at("image_url"),
                )?)));
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
    Ok(out.into())
}

crate::tape_fields! {
    struct PartFields {
        kind: "type",
        text: "text",
        refusal: "refusal",
        image_url: "image_url",
    }
}

crate::tape_fields! {
    struct ImageFields { url: "url", detail: "detail" }
}

fn parse_image(image: Option<Value<'_, '_>>, path: Path) -> Result<Image, CanonicalError> {
    let url_path = || join(&path(), "url");
    let image = image.ok_or_else(|| CanonicalError::new(path(), "is required"))?;
    let image = ImageFields::read(
        &image
            .as_object()
            .ok_or_else(|| CanonicalError::new(path(), "must be an object"))?,
    );
    let url = take_str(image.url, "url", path)?
        .ok_or_else(|| CanonicalError::new(url_path(), "is required"))?;
    let detail = take_str(image.detail, "detail", path)?;
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

crate::tape_fields! {
    struct CallFields { id: "id", function: "function" }
}

crate::tape_fields! {
    struct CalledFunction { name: "name", arguments: "arguments" }
}

fn parse_tool_calls(
    tool_calls: Option<Value<'_, '_>>,
    path: Path,
) -> Result<Vec<ToolCall>, CanonicalError> {
    let items = match tool_calls {
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
        let call = CallFields::read(
            &call
                .as_object()
                .ok_or_else(|| CanonicalError::new(call_path(), "must be an object"))?,
        );
        let id = take_str(call.id, "id", &call_path)?
            .ok_or_else(|| CanonicalError::new(join(&call_path(), "id"), "is required"))?;
        let function = call
            .function
            .ok_or_else(|| CanonicalError::new(function_path(), "is required"))?;
        let f = CalledFunction::read(
            &function
                .as_object()
                .ok_or_else(|| CanonicalError::new(function_path(), "must be an object"))?,
        );
        let name = take_str(f.name, "name", &function_path)?
            .ok_or_else(|| CanonicalError::new(join(&function_path(), "name"), "is required"))?;
        let arguments = take_str(f.arguments, "arguments", &function_path)?.unwrap_or_default();
        calls.push(ToolCall {
            id,
            name,
            arguments,
        });
    }
    Ok(calls)
}

crate::tape_fields! {
    struct BlockFields {
        kind: "type",
        thinking: "thinking",
        signature: "signature",
        data: "data",
    }
}

/// Reasoning a client replays: `thinking_blocks` (with signatures) wins over
/// the plain `reasoning_content` text, which carries no signature.
fn parse_reasoning_blocks(
    m: &MessageFields<'_, '_>,
    path: Path,
) -> Result<Vec<ReasoningBlock>, CanonicalError> {
    let blocks_path = || join(&path(), "thinking_blocks");
    match present(m.thinking_blocks) {
        None => {}
        Some(v) => {
            let items = v
                .as_array()
                .ok_or_else(|| CanonicalError::new(blocks_path(), "must be an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for (k, block) in items.iter().enumerate() {
                let at = || format!("{}[{k}]", blocks_path());
                let b = BlockFields::read(
                    &block
                        .as_object()
                        .ok_or_else(|| CanonicalError::new(at(), "must be an object"))?,
                );
                match b.kind.and_then(|t| t.into_string()) {
                    Some("thinking") => out.push(ReasoningBlock::Thought {
                        text: take_str(b.thinking, "thinking", &at)?.unwrap_or_default(),
                        signature: take_str(b.signature, "signature", &at)?,
                    }),
                    Some("redacted_thinking") => out.push(ReasoningBlock::Redacted {
                        data: take_str(b.data, "data", &at)?.ok_or_else(|| {
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
    Ok(take_str(m.reasoning_content, "reasoning_content", path)?
        .filter(|t| !t.is_empty())
        .map(|text| {
            vec![ReasoningBlock::Thought {
                text,
                signature: None,
            }]
        })
        .unwrap_or_default())
}
