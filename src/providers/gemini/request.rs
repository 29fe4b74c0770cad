//! Canonical request → Gemini `GenerateContentRequest` body, written
//! straight into the output buffer: system prompts hoisted, turns merged by
//! role, tool calls and results paired up by id, thought signatures restored
//! from the tool-call ids (see `ids`). Tool arguments and results that are
//! JSON objects go out compact, read off simd-json's tape, never as a DOM.

use std::collections::HashMap;

use super::convert::{ConvertError, GeminiOptions, SchemaMode};
use super::ids;
use super::schema;
use super::wire::{ROLE_MODEL, ROLE_USER};
use crate::canonical::json::{write_list, write_str, write_value};
use crate::canonical::raw::{write_arguments, write_object_text};
use crate::canonical::{ChatRequest, ContentPart, ImageSource, Message, Role, ToolChoice};
use crate::providers::turns::Turns;

/// Gemini's documented stand-in for a function call replayed without its
/// signature (history from another model, or a client that rewrote ids).
pub const SIGNATURE_SENTINEL: &str = "skip_thought_signature_validator";

/// Writes `{"contents":[…],"systemInstruction":…,"tools":…,"toolConfig":…`
/// into `out`, leaving the object open for `convert` to add the generation
/// config and close it. On `Err`, `out` holds a partial body to discard.
pub fn write_open(
    req: &ChatRequest,
    opts: &GeminiOptions,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    out.extend_from_slice(b"{\"contents\":[");
    let mut turns = Turns::new(out, "parts");
    let mut system: Vec<&str> = Vec::new();
    // Tool-call id → function name, filled as assistant turns go by (a
    // repeated id means its latest call). A map, not a list: a hostile body
    // with many calls and results must not cost their product.
    let mut calls: HashMap<&str, &str> = HashMap::new();
    for (index, msg) in req.messages.iter().enumerate() {
        match msg.role {
            Role::System | Role::Developer => system.extend(texts(msg)),
            Role::User => {
                for part in &msg.content {
                    if matches!(part, ContentPart::Text(t) if t.is_empty()) {
                        continue;
                    }
                    write_user_part(turns.item(ROLE_USER), part);
                }
            }
            Role::Assistant => {
                calls.extend(
                    msg.tool_calls
                        .iter()
                        .map(|c| (c.id.as_str(), c.name.as_str())),
                );
                write_model_parts(&mut turns, msg, index, opts)?;
            }
            Role::Tool => write_tool_result(&mut turns, msg, index, &calls)?,
        }
    }
    if !turns.finish() {
        return Err(ConvertError::NoContents);
    }
    out.push(b']');
    if !system.is_empty() {
        out.extend_from_slice(b",\"systemInstruction\":{\"parts\":");
        write_list(out, &system, |out, text| write_text_part(out, text));
        out.push(b'}');
    }
    write_tools(req, opts, out);
    write_tool_config(req, out);
    Ok(())
}

/// The message's non-empty text parts (Gemini rejects an empty `text`).
fn texts(msg: &Message) -> impl Iterator<Item = &str> + '_ {
    msg.content.iter().filter_map(|p| match p {
        ContentPart::Text(t) if !t.is_empty() => Some(t.as_str()),
        _ => None,
    })
}

fn write_text_part(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"{\"text\":");
    write_str(out, text);
    out.push(b'}');
}

fn write_user_part(out: &mut Vec<u8>, part: &ContentPart) {
    match part {
        ContentPart::Text(t) => write_text_part(out, t),
        ContentPart::Image(img) => match &img.source {
            ImageSource::Base64 { media_type, data } => {
                out.extend_from_slice(b"{\"inlineData\":{\"mimeType\":");
                write_str(out, media_type);
                out.extend_from_slice(b",\"data\":");
                write_str(out, data);
                out.extend_from_slice(b"}}");
            }
            ImageSource::Url(url) => {
                out.extend_from_slice(b"{\"fileData\":{\"mimeType\":");
                write_str(out, guess_mime(url));
                out.extend_from_slice(b",\"fileUri\":");
                write_str(out, url);
                out.extend_from_slice(b"}}");
            }
        },
    }
}

/// Gemini wants a MIME type with `fileData`; OpenAI image URLs carry none.
/// We go by the path's extension (query and fragment ignored) and fall back
/// to `image/jpeg`, since `image_url` content is an image by definition.
pub fn guess_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => "image/jpeg",
    }
}

/// Text, then one `functionCall` part per tool call. Replayed reasoning text
/// is dropped: Gemini reads nothing from thought text it is sent back, and
/// the signature that matters rides in the tool-call id.
fn write_model_parts(
    turns: &mut Turns<'_>,
    msg: &Message,
    index: usize,
    opts: &GeminiOptions,
) -> Result<(), ConvertError> {
    for text in texts(msg) {
        write_text_part(turns.item(ROLE_MODEL), text);
    }
    for (k, call) in msg.tool_calls.iter().enumerate() {
        let decoded = ids::decode(&call.id);
        // Gemini signs the first call of a step; later parallel calls carry
        // none, so only the first unsigned call gets the stand-in.
        let signature = decoded
            .signature
            .as_deref()
            .or_else(|| (k == 0 && opts.signature_fallback).then_some(SIGNATURE_SENTINEL));
        let out = turns.item(ROLE_MODEL);
        out.push(b'{');
        if let Some(signature) = signature {
            out.extend_from_slice(b"\"thoughtSignature\":");
            write_str(out, signature);
            out.push(b',');
        }
        out.extend_from_slice(b"\"functionCall\":{");
        if let Some(id) = decoded.gemini_id {
            out.extend_from_slice(b"\"id\":");
            write_str(out, id);
            out.push(b',');
        }
        out.extend_from_slice(b"\"name\":");
        write_str(out, &call.name);
        out.extend_from_slice(b",\"args\":");
        if !write_arguments(out, &call.arguments) {
            return Err(ConvertError::BadArguments { index, call: k });
        }
        out.extend_from_slice(b"}}");
    }
    Ok(())
}

/// A `tool` message becomes a `functionResponse` part. Gemini matches
/// results by function name, so the name comes from the assistant turn that
/// made the call with this id. `response` must be an object: a tool output
/// that is a JSON object goes as-is; anything else (plain text, arrays,
/// numbers) is wrapped as `{"result": "<the output text>"}`.
fn write_tool_result(
    turns: &mut Turns<'_>,
    msg: &Message,
    index: usize,
    calls: &HashMap<&str, &str>,
) -> Result<(), ConvertError> {
    let id = msg.tool_call_id.as_deref().unwrap_or_default();
    let Some(&name) = calls.get(id) else {
        return Err(ConvertError::UnknownToolCall {
            index,
            id: id.to_owned(),
        });
    };
    let out = turns.item(ROLE_USER);
    out.extend_from_slice(b"{\"functionResponse\":{");
    if let Some(gemini_id) = ids::decode(id).gemini_id {
        out.extend_from_slice(b"\"id\":");
        write_str(out, gemini_id);
        out.push(b',');
    }
    out.extend_from_slice(b"\"name\":");
    write_str(out, name);
    out.extend_from_slice(b",\"response\":");
    let text = msg.joined_text();
    if !write_object_text(out, &text) {
        out.extend_from_slice(b"{\"result\":");
        write_str(out, &text);
        out.push(b'}');
    }
    out.extend_from_slice(b"}}");
    Ok(())
}

fn write_tools(req: &ChatRequest, opts: &GeminiOptions, out: &mut Vec<u8>) {
    if req.tools.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"tools\":[{\"functionDeclarations\":[");
    for (i, t) in req.tools.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        write_str(out, &t.name);
        if let Some(description) = &t.description {
            out.extend_from_slice(b",\"description\":");
            write_str(out, description);
        }
        match (&t.parameters, opts.schema_mode) {
            (None, _) => {}
            (Some(p), SchemaMode::JsonSchema) => {
                out.extend_from_slice(b",\"parametersJsonSchema\":");
                out.extend_from_slice(p.as_str().as_bytes());
            }
            (Some(p), SchemaMode::OpenApiSubset) => {
                let converted = schema::to_openapi(&p.to_value());
                if !schema::is_empty_object(&converted) {
                    out.extend_from_slice(b",\"parameters\":");
                    write_value(out, &converted);
                }
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}]");
}

fn write_tool_config(req: &ChatRequest, out: &mut Vec<u8>) {
    if req.tools.is_empty() {
        return;
    }
    let Some(choice) = &req.tool_choice else {
        return;
    };
    let (mode, allowed) = match choice {
        ToolChoice::Auto => ("AUTO", None),
        ToolChoice::None => ("NONE", None),
        ToolChoice::Required => ("ANY", None),
        ToolChoice::Function(name) => ("ANY", Some(name)),
    };
    out.extend_from_slice(b",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":");
    write_str(out, mode);
    if let Some(name) = allowed {
        out.extend_from_slice(b",\"allowedFunctionNames\":[");
        write_str(out, name);
        out.push(b']');
    }
    out.extend_from_slice(b"}}");
}
