//! The content blocks of one Anthropic message, split into canonical
//! messages: a user turn's `tool_result` blocks become `Role::Tool`
//! messages (in place, between the text around them), an assistant turn's
//! `thinking`, `text` and `tool_use` blocks fill one assistant message.
//!
//! Block types with no canonical equivalent (`document`, `search_result`,
//! server tool blocks, anything newer) are refused at
//! `messages[i].content[j].type`.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use super::read::{Path, join, object, opt_bool, opt_str, present, req_str};
use crate::canonical::tape::BodyMap;
use crate::canonical::{
    CanonicalError, ContentPart, Image, ImageSource, Message, Parts, RawJson, ReasoningBlock, Role,
    ToolCall,
};

crate::tape_fields! {
    struct MessageFields { role: "role", content: "content" }
}

crate::tape_fields! {
    struct BlockFields {
        kind: "type",
        text: "text",
        source: "source",
        id: "id",
        name: "name",
        input: "input",
        tool_use_id: "tool_use_id",
        content: "content",
        is_error: "is_error",
        thinking: "thinking",
        signature: "signature",
        data: "data",
    }
}

/// Appends the canonical messages of `messages[i]` to `out`.
pub(super) fn parse_message(
    i: usize,
    value: Value<'_, '_>,
    map: BodyMap<'_>,
    out: &mut Vec<Message>,
) -> Result<(), CanonicalError> {
    let path = || format!("messages[{i}]");
    let m = MessageFields::read(&object(value, &path)?);
    let role = match req_str(m.role, &|| join(&path(), "role"))? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => {
            return Err(CanonicalError::new(
                join(&path(), "role"),
                "must be \"user\" or \"assistant\" (the system prompt goes in `system`)",
            ));
        }
    };
    let content_path = || join(&path(), "content");
    let content =
        present(m.content).ok_or_else(|| CanonicalError::new(content_path(), "is required"))?;
    if let Some(text) = content.as_str() {
        if role == Role::User && text.is_empty() {
            return Err(CanonicalError::new(content_path(), "must not be empty"));
        }
        out.push(Message::text(role, text));
        return Ok(());
    }
    let blocks = content.as_array().ok_or_else(|| {
        CanonicalError::new(
            content_path(),
            "must be a string or an array of content blocks",
        )
    })?;
    if role == Role::User && blocks.is_empty() {
        return Err(CanonicalError::new(content_path(), "must not be empty"));
    }
    match role {
        Role::Assistant => out.push(assistant(blocks, map, &content_path)?),
        _ => user(blocks, &content_path, out)?,
    }
    Ok(())
}

/// Text and images collect into a user message; each `tool_result` closes
/// the text before it and becomes its own tool message, so the order the
/// client wrote is kept.
fn user(
    blocks: simd_json::tape::Array<'_, '_>,
    path: Path,
    out: &mut Vec<Message>,
) -> Result<(), CanonicalError> {
    let mut pending = Parts::default();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = || format!("{}[{j}]", path());
        let b = BlockFields::read(&object(block, &block_path)?);
        match req_str(b.kind, &|| join(&block_path(), "type"))? {
            "text" => pending.push(ContentPart::Text(
                req_str(b.text, &|| join(&block_path(), "text"))?.to_owned(),
            )),
            "image" => pending.push(image(b.source, &|| join(&block_path(), "source"))?),
            "tool_result" => {
                if !pending.is_empty() {
                    out.push(Message::new(Role::User, std::mem::take(&mut pending)));
                }
                out.push(tool_result(&b, &block_path)?);
            }
            other => return Err(unsupported(&block_path, other)),
        }
    }
    if !pending.is_empty() {
        out.push(Message::new(Role::User, pending));
    }
    Ok(())
}

fn tool_result(b: &BlockFields<'_, '_>, path: Path) -> Result<Message, CanonicalError> {
    let id = req_str(b.tool_use_id, &|| join(&path(), "tool_use_id"))?;
    let content_path = || join(&path(), "content");
    let content = match present(b.content) {
        None => Parts::default(),
        Some(c) if c.is_str() => {
            Parts::one(ContentPart::Text(c.as_str().unwrap_or_default().to_owned()))
        }
        Some(c) => {
            let items = c.as_array().ok_or_else(|| {
                CanonicalError::new(content_path(), "must be a string or an array of blocks")
            })?;
            let mut parts = Parts::default();
            for (k, item) in items.iter().enumerate() {
                let item_path = || format!("{}[{k}]", content_path());
                let f = BlockFields::read(&object(item, &item_path)?);
                match req_str(f.kind, &|| join(&item_path(), "type"))? {
                    "text" => parts.push(ContentPart::Text(
                        req_str(f.text, &|| join(&item_path(), "text"))?.to_owned(),
                    )),
                    "image" => parts.push(image(f.source, &|| join(&item_path(), "source"))?),
                    other => return Err(unsupported(&item_path, other)),
                }
            }
            parts
        }
    };
    let mut message = Message::new(Role::Tool, content);
    message.tool_call_id = Some(id.to_owned());
    message.tool_error = opt_bool(b.is_error, &|| join(&path(), "is_error"))?;
    Ok(message)
}

crate::tape_fields! {
    struct SourceFields { kind: "type", media_type: "media_type", data: "data", url: "url" }
}

fn image(source: Option<Value<'_, '_>>, path: Path) -> Result<ContentPart, CanonicalError> {
    let source = present(source).ok_or_else(|| CanonicalError::new(path(), "is required"))?;
    let s = SourceFields::read(&object(source, path)?);
    let at = |field: &str| join(&path(), field);
    let source = match req_str(s.kind, &|| at("type"))? {
        "base64" => ImageSource::Base64 {
            media_type: req_str(s.media_type, &|| at("media_type"))?.to_owned(),
            data: req_str(s.data, &|| at("data"))?.to_owned(),
        },
        "url" => ImageSource::Url(req_str(s.url, &|| at("url"))?.to_owned()),
        other => {
            return Err(CanonicalError::new(
                at("type"),
                format!("image source {other:?} is not supported; use \"base64\" or \"url\""),
            ));
        }
    };
    Ok(ContentPart::Image(Box::new(Image {
        source,
        detail: None,
    })))
}

fn assistant(
    blocks: simd_json::tape::Array<'_, '_>,
    map: BodyMap<'_>,
    path: Path,
) -> Result<Message, CanonicalError> {
    let mut message = Message::new(Role::Assistant, Parts::default());
    for (j, block) in blocks.iter().enumerate() {
        let block_path = || format!("{}[{j}]", path());
        let at = |field: &str| join(&block_path(), field);
        let b = BlockFields::read(&object(block, &block_path)?);
        match req_str(b.kind, &|| at("type"))? {
            "text" => message.content.push(ContentPart::Text(
                req_str(b.text, &|| at("text"))?.to_owned(),
            )),
            "tool_use" => {
                let input = match present(b.input) {
                    Some(input) if input.is_object() => RawJson::from_body(map, input),
                    Some(_) => return Err(CanonicalError::new(at("input"), "must be an object")),
                    None => RawJson::empty_object(),
                };
                message.tool_calls.push(ToolCall {
                    id: req_str(b.id, &|| at("id"))?.to_owned(),
                    name: req_str(b.name, &|| at("name"))?.to_owned(),
                    arguments: input.into_string(),
                });
            }
            "thinking" => message.reasoning.push(ReasoningBlock::Thought {
                text: req_str(b.thinking, &|| at("thinking"))?.to_owned(),
                signature: opt_str(b.signature, &|| at("signature"))?
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            }),
            "redacted_thinking" => message.reasoning.push(ReasoningBlock::Redacted {
                data: req_str(b.data, &|| at("data"))?.to_owned(),
            }),
            other => return Err(unsupported(&block_path, other)),
        }
    }
    Ok(message)
}

/// A string, or an array of text blocks (the shape of `system`).
pub(super) fn text_blocks(value: Value<'_, '_>, path: Path) -> Result<Parts, CanonicalError> {
    if let Some(text) = value.as_str() {
        if text.is_empty() {
            return Ok(Parts::default());
        }
        return Ok(Parts::one(ContentPart::Text(text.to_owned())));
    }
    let items = value.as_array().ok_or_else(|| {
        CanonicalError::new(path(), "must be a string or an array of text blocks")
    })?;
    let mut parts = Parts::default();
    for (j, item) in items.iter().enumerate() {
        let item_path = || format!("{}[{j}]", path());
        let b = BlockFields::read(&object(item, &item_path)?);
        match req_str(b.kind, &|| join(&item_path(), "type"))? {
            "text" => parts.push(ContentPart::Text(
                req_str(b.text, &|| join(&item_path(), "text"))?.to_owned(),
            )),
            other => return Err(unsupported(&item_path, other)),
        }
    }
    Ok(parts)
}

fn unsupported(path: Path, kind: &str) -> CanonicalError {
    let why = match kind {
        "document" => "document blocks are not supported by this gateway's translation".to_owned(),
        _ => format!("content block type {kind:?} is not supported here"),
    };
    CanonicalError::new(join(&path(), "type"), why)
}
