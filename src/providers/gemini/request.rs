//! Canonical request → Gemini `GenerateContentRequest`: system prompts
//! hoisted, turns merged by role, tool calls and results paired up by id,
//! thought signatures restored from the tool-call ids (see `ids`).

use std::collections::HashMap;

use crate::canonical::tape::prelude::*;
use simd_json::OwnedValue;

use super::convert::{ConvertError, GeminiOptions, SchemaMode};
use super::ids;
use super::schema;
use super::wire::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, Part, ROLE_MODEL, ROLE_USER, Tool, ToolConfig,
};
use crate::canonical::{ChatRequest, ContentPart, ImageSource, Message, Role, ToolChoice};

/// Gemini's documented stand-in for a function call replayed without its
/// signature (history from another model, or a client that rewrote ids).
pub const SIGNATURE_SENTINEL: &str = "skip_thought_signature_validator";

/// Builds the body; `convert` adds the generation config.
pub fn build<'a>(
    req: &'a ChatRequest,
    opts: &GeminiOptions,
) -> Result<GenerateContentRequest<'a>, ConvertError> {
    let mut out = GenerateContentRequest {
        tools: tools(req, opts),
        tool_config: tool_config(req),
        ..GenerateContentRequest::default()
    };
    let mut system = Vec::new();
    // Tool-call id → function name, filled as assistant turns go by.
    let mut calls: HashMap<&str, &str> = HashMap::new();
    for (index, msg) in req.messages.iter().enumerate() {
        match msg.role {
            Role::System | Role::Developer => system.extend(text_parts(msg)),
            Role::User => push_turn(&mut out.contents, ROLE_USER, user_parts(msg)),
            Role::Assistant => {
                for call in &msg.tool_calls {
                    calls.insert(call.id.as_str(), call.name.as_str());
                }
                push_turn(
                    &mut out.contents,
                    ROLE_MODEL,
                    model_parts(msg, index, opts)?,
                );
            }
            Role::Tool => {
                let part = tool_result(msg, index, &calls)?;
                push_turn(&mut out.contents, ROLE_USER, vec![part]);
            }
        }
    }
    if !system.is_empty() {
        out.system_instruction = Some(Content {
            role: None,
            parts: system,
        });
    }
    if out.contents.is_empty() {
        return Err(ConvertError::NoContents);
    }
    Ok(out)
}

/// Appends `parts` to the last turn when it has the same role (Gemini wants
/// turns to alternate, and all results of a parallel call in one turn).
fn push_turn(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content {
            role: Some(role.to_owned()),
            parts,
        }),
    }
}

fn text_part(text: &str) -> Part {
    Part {
        text: Some(text.to_owned()),
        ..Part::default()
    }
}

/// Empty text parts are skipped: Gemini rejects an empty `text`.
fn text_parts(msg: &Message) -> impl Iterator<Item = Part> + '_ {
    msg.content.iter().filter_map(|p| match p {
        ContentPart::Text(t) if !t.is_empty() => Some(text_part(t)),
        _ => None,
    })
}

fn user_parts(msg: &Message) -> Vec<Part> {
    msg.content
        .iter()
        .filter(|p| !matches!(p, ContentPart::Text(t) if t.is_empty()))
        .map(|p| match p {
            ContentPart::Text(t) => text_part(t),
            ContentPart::Image(img) => match &img.source {
                ImageSource::Base64 { media_type, data } => Part {
                    inline_data: Some(Blob {
                        mime_type: media_type.clone(),
                        data: data.clone(),
                    }),
                    ..Part::default()
                },
                ImageSource::Url(url) => Part {
                    file_data: Some(FileData {
                        mime_type: Some(guess_mime(url).to_owned()),
                        file_uri: url.clone(),
                    }),
                    ..Part::default()
                },
            },
        })
        .collect()
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
fn model_parts(
    msg: &Message,
    index: usize,
    opts: &GeminiOptions,
) -> Result<Vec<Part>, ConvertError> {
    let mut parts: Vec<Part> = text_parts(msg)
        .filter(|p| p.text.as_deref() != Some(""))
        .collect();
    for (k, call) in msg.tool_calls.iter().enumerate() {
        let decoded = ids::decode(&call.id);
        let args = parse_arguments(&call.arguments)
            .ok_or(ConvertError::BadArguments { index, call: k })?;
        // Gemini signs the first call of a step; later parallel calls carry
        // none, so only the first unsigned call gets the stand-in.
        let signature = decoded
            .signature
            .or_else(|| (k == 0 && opts.signature_fallback).then(|| SIGNATURE_SENTINEL.to_owned()));
        parts.push(Part {
            thought_signature: signature,
            function_call: Some(FunctionCall {
                id: decoded.gemini_id.map(str::to_owned),
                name: Some(call.name.clone()),
                args: Some(args),
                ..FunctionCall::default()
            }),
            ..Part::default()
        });
    }
    Ok(parts)
}

/// OpenAI arguments are JSON text; Gemini's `args` must be an object.
fn parse_arguments(text: &str) -> Option<OwnedValue> {
    if text.trim().is_empty() {
        return Some(OwnedValue::from(simd_json::owned::Object::new()));
    }
    let mut buf = text.as_bytes().to_vec();
    simd_json::to_owned_value(&mut buf)
        .ok()
        .filter(|v| v.is_object())
}

/// A `tool` message becomes a `functionResponse` part. Gemini matches
/// results by function name, so the name comes from the assistant turn that
/// made the call with this id. `response` must be an object: a tool output
/// that is a JSON object goes as-is; anything else (plain text, arrays,
/// numbers) is wrapped as `{"result": "<the output text>"}`.
fn tool_result(
    msg: &Message,
    index: usize,
    calls: &HashMap<&str, &str>,
) -> Result<Part, ConvertError> {
    let id = msg.tool_call_id.as_deref().unwrap_or_default();
    let name = calls.get(id).ok_or_else(|| ConvertError::UnknownToolCall {
        index,
        id: id.to_owned(),
    })?;
    let text = msg.joined_text();
    let mut buf = text.as_bytes().to_vec();
    let response = match simd_json::to_owned_value(&mut buf) {
        Ok(v) if v.is_object() => v,
        _ => {
            let mut wrapped = simd_json::owned::Object::new();
            wrapped.insert("result".into(), OwnedValue::from(text));
            OwnedValue::from(wrapped)
        }
    };
    Ok(Part {
        function_response: Some(FunctionResponse {
            id: ids::decode(id).gemini_id.map(str::to_owned),
            name: (*name).to_owned(),
            response,
        }),
        ..Part::default()
    })
}

fn tools<'a>(req: &'a ChatRequest, opts: &GeminiOptions) -> Vec<Tool<'a>> {
    if req.tools.is_empty() {
        return Vec::new();
    }
    let function_declarations = req
        .tools
        .iter()
        .map(|t| {
            let mut decl = FunctionDeclaration {
                name: &t.name,
                description: t.description.as_deref(),
                ..FunctionDeclaration::default()
            };
            match (&t.parameters, opts.schema_mode) {
                (None, _) => {}
                (Some(p), SchemaMode::JsonSchema) => decl.parameters_json_schema = Some(p),
                (Some(p), SchemaMode::OpenApiSubset) => {
                    let converted = schema::to_openapi(&p.to_value());
                    if !schema::is_empty_object(&converted) {
                        decl.parameters = Some(converted);
                    }
                }
            }
            decl
        })
        .collect();
    vec![Tool {
        function_declarations,
    }]
}

fn tool_config(req: &ChatRequest) -> Option<ToolConfig> {
    if req.tools.is_empty() {
        return None;
    }
    let (mode, allowed) = match req.tool_choice.as_ref()? {
        ToolChoice::Auto => ("AUTO", Vec::new()),
        ToolChoice::None => ("NONE", Vec::new()),
        ToolChoice::Required => ("ANY", Vec::new()),
        ToolChoice::Function(name) => ("ANY", vec![name.clone()]),
    };
    Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    })
}
