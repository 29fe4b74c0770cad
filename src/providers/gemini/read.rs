//! Gemini answers and stream chunks read off simd-json's tape into the wire
//! types, over the worker's scratch buffers: each object's known members in
//! one pass, unknown ones skipped, `null` read as absent, and a member of
//! the wrong type an error that names it. Only the JSON values a call
//! carries (`args`, a partial argument's value, a function response) are
//! built as owned values; everything else is read where it lies.

use simd_json::tape::Value;
use simd_json::{OwnedValue, StaticNode};

use super::wire::{
    Blob, Candidate, Content, ErrorBody, FileData, FunctionCall, FunctionResponse,
    GenerateContentResponse, Part, PartialArg, PromptFeedback, UsageMetadata,
};
use crate::canonical::tape::prelude::*;
use crate::canonical::tape::{Obj, with_tape};

type Read<T> = Result<T, String>;

crate::tape_fields! {
    struct ResponseFields {
        candidates: "candidates",
        prompt_feedback: "promptFeedback",
        usage_metadata: "usageMetadata",
        model_version: "modelVersion",
        response_id: "responseId",
        error: "error",
    }
}

crate::tape_fields! {
    struct CandidateFields {
        content: "content",
        finish_reason: "finishReason",
        finish_message: "finishMessage",
        index: "index",
    }
}

crate::tape_fields! {
    struct FeedbackFields { block_reason: "blockReason", block_reason_message: "blockReasonMessage" }
}

crate::tape_fields! {
    struct UsageFields {
        prompt: "promptTokenCount",
        candidates: "candidatesTokenCount",
        total: "totalTokenCount",
        cached: "cachedContentTokenCount",
        thoughts: "thoughtsTokenCount",
        tool_use: "toolUsePromptTokenCount",
    }
}

crate::tape_fields! {
    struct ErrorFields { code: "code", message: "message", status: "status" }
}

crate::tape_fields! {
    struct ContentFields { role: "role", parts: "parts" }
}

crate::tape_fields! {
    struct PartFields {
        text: "text",
        thought: "thought",
        thought_signature: "thoughtSignature",
        inline_data: "inlineData",
        file_data: "fileData",
        function_call: "functionCall",
        function_response: "functionResponse",
    }
}

crate::tape_fields! {
    struct FileFields { mime_type: "mimeType", data: "data", file_uri: "fileUri" }
}

crate::tape_fields! {
    struct CallFields {
        id: "id",
        name: "name",
        args: "args",
        partial_args: "partialArgs",
        will_continue: "willContinue",
    }
}

crate::tape_fields! {
    struct PartialFields {
        json_path: "jsonPath",
        string_value: "stringValue",
        number_value: "numberValue",
        bool_value: "boolValue",
        null_value: "nullValue",
        will_continue: "willContinue",
    }
}

crate::tape_fields! {
    struct ResultFields { id: "id", name: "name", response: "response" }
}

crate::tape_fields! {
    struct EnvelopeFields { error: "error" }
}

/// The `error` of an error body, when it is readable as one.
pub fn read_error(body: &[u8]) -> Option<ErrorBody> {
    with_tape(body, |tape, _| {
        let root = tape.ok()?.as_value();
        let envelope = EnvelopeFields::read(&root.as_object()?);
        present(envelope.error).and_then(|e| error(e).ok())
    })
}

/// Reads a whole `GenerateContentResponse` (an answer, or one `data:` chunk).
pub fn read_response(body: &[u8]) -> Read<GenerateContentResponse> {
    with_tape(body, |tape, _| {
        let tape = tape.map_err(|e| e.to_string())?;
        response(tape.as_value())
    })
}

fn response(v: Value<'_, '_>) -> Read<GenerateContentResponse> {
    let f = ResponseFields::read(&object(v, "the answer")?);
    Ok(GenerateContentResponse {
        candidates: list(f.candidates, "candidates", candidate)?,
        prompt_feedback: present(f.prompt_feedback)
            .map(|p| {
                let p = FeedbackFields::read(&object(p, "promptFeedback")?);
                Ok::<_, String>(PromptFeedback {
                    block_reason: string(p.block_reason, "promptFeedback.blockReason")?,
                    block_reason_message: string(
                        p.block_reason_message,
                        "promptFeedback.blockReasonMessage",
                    )?,
                })
            })
            .transpose()?,
        usage_metadata: present(f.usage_metadata).map(usage).transpose()?,
        model_version: string(f.model_version, "modelVersion")?,
        response_id: string(f.response_id, "responseId")?,
        error: present(f.error).map(error).transpose()?,
    })
}

fn candidate(v: Value<'_, '_>) -> Read<Candidate> {
    let c = CandidateFields::read(&object(v, "a candidate")?);
    Ok(Candidate {
        content: present(c.content).map(content).transpose()?,
        finish_reason: string(c.finish_reason, "finishReason")?,
        finish_message: string(c.finish_message, "finishMessage")?,
        index: number(c.index, "index")?
            .map(|n| u32::try_from(n).map_err(|_| "`index` is out of range".to_owned()))
            .transpose()?,
    })
}

fn usage(v: Value<'_, '_>) -> Read<UsageMetadata> {
    let u = UsageFields::read(&object(v, "usageMetadata")?);
    let count = |v, what| number(v, what).map(Option::unwrap_or_default);
    Ok(UsageMetadata {
        prompt_token_count: count(u.prompt, "usageMetadata.promptTokenCount")?,
        candidates_token_count: count(u.candidates, "usageMetadata.candidatesTokenCount")?,
        total_token_count: count(u.total, "usageMetadata.totalTokenCount")?,
        cached_content_token_count: count(u.cached, "usageMetadata.cachedContentTokenCount")?,
        thoughts_token_count: count(u.thoughts, "usageMetadata.thoughtsTokenCount")?,
        tool_use_prompt_token_count: count(u.tool_use, "usageMetadata.toolUsePromptTokenCount")?,
    })
}

fn error(v: Value<'_, '_>) -> Read<ErrorBody> {
    let e = ErrorFields::read(&object(v, "error")?);
    Ok(ErrorBody {
        code: number(e.code, "error.code")?.and_then(|c| u16::try_from(c).ok()),
        message: string(e.message, "error.message")?,
        status: string(e.status, "error.status")?,
    })
}

fn content(v: Value<'_, '_>) -> Read<Content> {
    let c = ContentFields::read(&object(v, "content")?);
    Ok(Content {
        role: string(c.role, "content.role")?,
        parts: list(c.parts, "content.parts", part)?,
    })
}

fn part(v: Value<'_, '_>) -> Read<Part> {
    let p = PartFields::read(&object(v, "a part")?);
    Ok(Part {
        text: string(p.text, "text")?,
        thought: boolean(p.thought, "thought")?,
        thought_signature: string(p.thought_signature, "thoughtSignature")?,
        inline_data: present(p.inline_data)
            .map(|d| {
                let d = FileFields::read(&object(d, "inlineData")?);
                Ok::<_, String>(Blob {
                    mime_type: string(d.mime_type, "inlineData.mimeType")?.unwrap_or_default(),
                    data: string(d.data, "inlineData.data")?.unwrap_or_default(),
                })
            })
            .transpose()?,
        file_data: present(p.file_data)
            .map(|d| {
                let d = FileFields::read(&object(d, "fileData")?);
                Ok::<_, String>(FileData {
                    mime_type: string(d.mime_type, "fileData.mimeType")?,
                    file_uri: string(d.file_uri, "fileData.fileUri")?.unwrap_or_default(),
                })
            })
            .transpose()?,
        function_call: present(p.function_call).map(call).transpose()?,
        function_response: present(p.function_response)
            .map(|r| {
                let r = ResultFields::read(&object(r, "functionResponse")?);
                Ok::<_, String>(FunctionResponse {
                    id: string(r.id, "functionResponse.id")?,
                    name: string(r.name, "functionResponse.name")?.unwrap_or_default(),
                    response: present(r.response).map(owned).unwrap_or_default(),
                })
            })
            .transpose()?,
    })
}

fn call(v: Value<'_, '_>) -> Read<FunctionCall> {
    let c = CallFields::read(&object(v, "functionCall")?);
    Ok(FunctionCall {
        id: string(c.id, "functionCall.id")?,
        name: string(c.name, "functionCall.name")?,
        args: present(c.args).map(owned),
        // Absent and empty differ here: only a streamed call has the list.
        partial_args: present(c.partial_args)
            .is_some()
            .then(|| list(c.partial_args, "functionCall.partialArgs", partial_arg))
            .transpose()?,
        will_continue: boolean(c.will_continue, "functionCall.willContinue")?,
    })
}

fn partial_arg(v: Value<'_, '_>) -> Read<PartialArg> {
    let a = PartialFields::read(&object(v, "a partial argument")?);
    Ok(PartialArg {
        json_path: string(a.json_path, "partialArgs.jsonPath")?.unwrap_or_default(),
        string_value: string(a.string_value, "partialArgs.stringValue")?,
        number_value: present(a.number_value).map(owned),
        bool_value: boolean(a.bool_value, "partialArgs.boolValue")?,
        null_value: present(a.null_value).map(owned),
        will_continue: boolean(a.will_continue, "partialArgs.willContinue")?,
    })
}

/// The value, unless it is absent or `null`.
fn present<'t, 'i>(v: Option<Value<'t, 'i>>) -> Option<Value<'t, 'i>> {
    v.filter(|v| !v.is_null())
}

fn object<'t, 'i>(v: Value<'t, 'i>, what: &str) -> Read<Obj<'t, 'i>> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not a JSON object"))
}

/// A present value read by `get`, which answers `None` when it is not
/// `kind`.
fn typed<'t, 'i, T>(
    v: Option<Value<'t, 'i>>,
    what: &str,
    kind: &str,
    get: impl FnOnce(Value<'t, 'i>) -> Option<T>,
) -> Read<Option<T>> {
    present(v)
        .map(|v| get(v).ok_or_else(|| format!("`{what}` is not {kind}")))
        .transpose()
}

fn string(v: Option<Value<'_, '_>>, what: &str) -> Read<Option<String>> {
    typed(v, what, "a string", |s| s.as_str().map(str::to_owned))
}

fn boolean(v: Option<Value<'_, '_>>, what: &str) -> Read<Option<bool>> {
    typed(v, what, "a boolean", |b| b.as_bool())
}

fn number(v: Option<Value<'_, '_>>, what: &str) -> Read<Option<u64>> {
    typed(v, what, "a non-negative integer", |n| n.as_u64())
}

/// An array's items read by `item`; absent or `null` is no items.
fn list<T>(
    v: Option<Value<'_, '_>>,
    what: &str,
    item: impl FnMut(Value<'_, '_>) -> Read<T>,
) -> Read<Vec<T>> {
    Ok(typed(v, what, "an array", |v| v.as_array())?
        .map(|items| items.iter().map(item).collect::<Read<Vec<T>>>())
        .transpose()?
        .unwrap_or_default())
}

/// A tape value as an owned one, as simd-json's own parser would build it
/// (a repeated key keeps its last value).
fn owned(v: Value<'_, '_>) -> OwnedValue {
    match v.value_type() {
        ValueType::Object => {
            let mut map = simd_json::owned::Object::new();
            if let Some(members) = v.as_object() {
                for (key, item) in members.iter() {
                    map.insert(key.to_owned(), owned(item));
                }
            }
            OwnedValue::from(map)
        }
        ValueType::Array => OwnedValue::Array(Box::new(
            v.as_array()
                .map(|items| items.iter().map(owned).collect())
                .unwrap_or_default(),
        )),
        ValueType::String => OwnedValue::from(v.as_str().unwrap_or_default()),
        ValueType::Bool => OwnedValue::from(v.as_bool().unwrap_or_default()),
        ValueType::I64 => OwnedValue::from(v.as_i64().unwrap_or_default()),
        ValueType::U64 => OwnedValue::from(v.as_u64().unwrap_or_default()),
        ValueType::F64 => OwnedValue::from(v.as_f64().unwrap_or_default()),
        _ => OwnedValue::Static(StaticNode::Null),
    }
}
