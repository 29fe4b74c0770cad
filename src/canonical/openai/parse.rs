//! Parses an OpenAI Chat Completions request body into a [`ChatRequest`],
//! rejecting malformed fields with the JSON path the client got wrong.
//!
//! The body is parsed into simd-json's tape (one flat array of nodes whose
//! strings point into a per-thread scratch copy) and only what the canonical
//! model keeps is copied out, so keys and fields we ignore never allocate.

use simd_json::prelude::*;
use simd_json::tape::Value;

use super::parse_message::parse_message;
use super::tape::{Obj, field, member, opt_bool, opt_f64, opt_i64, opt_u32, take_str, with_tape};
use crate::canonical::{
    CanonicalError, ChatRequest, JsonSchemaFormat, RawJson, ReasoningConfig, ReasoningEffort,
    ResponseFormat, SamplingParams, ToolChoice, ToolDefinition,
};

/// Parses and validates a `/v1/chat/completions` body.
///
/// Unknown top-level fields are ignored (OpenAI keeps adding them and most
/// have no meaning for other providers); known fields with the wrong type
/// are errors.
pub fn parse_openai_request(body: &[u8]) -> Result<ChatRequest, CanonicalError> {
    with_tape(body, |parsed| {
        let tape =
            parsed.map_err(|e| CanonicalError::new("", format!("body is not valid JSON: {e}")))?;
        parse_root(tape.as_value())
    })
}

/// Each field is looked up once, in the order the errors have always been
/// reported in, so the first complaint a client gets does not change.
fn parse_root(root: Value<'_, '_>) -> Result<ChatRequest, CanonicalError> {
    let obj = root
        .as_object()
        .ok_or_else(|| CanonicalError::new("", "body must be a JSON object"))?;

    let model = take_str(&obj, "model", &String::new)?
        .ok_or_else(|| CanonicalError::new("model", "is required"))?;
    let messages = match field(&obj, "messages") {
        None => return Err(CanonicalError::new("messages", "is required")),
        Some(v) if v.is_null() => return Err(CanonicalError::new("messages", "is required")),
        Some(v) => match v.as_array() {
            Some(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, m)| parse_message(i, m))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(CanonicalError::new("messages", "must not be empty")),
            None => return Err(CanonicalError::new("messages", "must be an array")),
        },
    };

    let obj = &obj;
    let (stream, include_usage) = parse_stream(obj)?;
    Ok(ChatRequest {
        model,
        messages,
        tools: parse_tools(obj)?,
        tool_choice: parse_tool_choice(obj)?,
        parallel_tool_calls: opt_bool(obj, "parallel_tool_calls")?,
        response_format: parse_response_format(obj)?,
        sampling: parse_sampling(obj)?,
        reasoning: parse_reasoning(obj)?,
        stream,
        include_usage,
        user: take_str(obj, "user", &String::new)?,
    })
}

fn parse_stream(obj: &Obj<'_, '_>) -> Result<(bool, bool), CanonicalError> {
    let stream = opt_bool(obj, "stream")?.unwrap_or(false);
    let include_usage = match field(obj, "stream_options") {
        None => false,
        Some(v) if v.is_null() => false,
        Some(v) => match member(v, "include_usage") {
            None => false,
            Some(u) if u.is_null() => false,
            Some(u) => u.as_bool().ok_or_else(|| {
                CanonicalError::new("stream_options.include_usage", "must be a boolean")
            })?,
        },
    };
    Ok((stream, include_usage))
}

fn parse_sampling(obj: &Obj<'_, '_>) -> Result<SamplingParams, CanonicalError> {
    let max_completion = opt_u32(obj, "max_completion_tokens")?;
    let max_tokens = opt_u32(obj, "max_tokens")?;
    let stop = match field(obj, "stop") {
        None => Vec::new(),
        Some(v) if v.is_null() => Vec::new(),
        Some(v) => match (v.as_str(), v.as_array()) {
            (Some(s), _) => vec![s.to_owned()],
            (None, Some(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        CanonicalError::new(format!("stop[{i}]"), "must be a string")
                    })
                })
                .collect::<Result<_, _>>()?,
            (None, None) => {
                return Err(CanonicalError::new(
                    "stop",
                    "must be a string or an array of strings",
                ));
            }
        },
    };
    Ok(SamplingParams {
        temperature: opt_f64(obj, "temperature")?,
        top_p: opt_f64(obj, "top_p")?,
        max_output_tokens: max_completion.or(max_tokens),
        stop,
        seed: opt_i64(obj, "seed")?,
        presence_penalty: opt_f64(obj, "presence_penalty")?,
        frequency_penalty: opt_f64(obj, "frequency_penalty")?,
        n: opt_u32(obj, "n")?,
    })
}

fn parse_reasoning(obj: &Obj<'_, '_>) -> Result<Option<ReasoningConfig>, CanonicalError> {
    let effort = match field(obj, "reasoning_effort") {
        None => None,
        Some(v) if v.is_null() => None,
        Some(v) => Some(match v.as_str() {
            Some("none") => ReasoningEffort::None,
            Some("minimal") => ReasoningEffort::Minimal,
            Some("low") => ReasoningEffort::Low,
            Some("medium") => ReasoningEffort::Medium,
            Some("high") => ReasoningEffort::High,
            Some("xhigh") => ReasoningEffort::XHigh,
            _ => {
                return Err(CanonicalError::new(
                    "reasoning_effort",
                    "must be one of none, minimal, low, medium, high, xhigh",
                ));
            }
        }),
    };
    // Anthropic-style `thinking: {type: "enabled", budget_tokens}`, which
    // several OpenAI-compatible gateways accept as an extension.
    let budget_tokens = match field(obj, "thinking") {
        None => None,
        Some(v) if v.is_null() => None,
        Some(v) => match member(v, "type").and_then(|t| t.into_string()) {
            Some("enabled") => Some(
                member(v, "budget_tokens")
                    .and_then(|b| b.as_u64())
                    .and_then(|b| u32::try_from(b).ok())
                    .ok_or_else(|| {
                        CanonicalError::new("thinking.budget_tokens", "must be a positive integer")
                    })?,
            ),
            Some("disabled") => None,
            _ => {
                return Err(CanonicalError::new(
                    "thinking.type",
                    "must be \"enabled\" or \"disabled\"",
                ));
            }
        },
    };
    if effort.is_none() && budget_tokens.is_none() {
        return Ok(None);
    }
    Ok(Some(ReasoningConfig {
        effort,
        budget_tokens,
    }))
}

fn parse_tools(obj: &Obj<'_, '_>) -> Result<Vec<ToolDefinition>, CanonicalError> {
    let items = match field(obj, "tools") {
        None => return Ok(Vec::new()),
        Some(v) if v.is_null() => return Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .ok_or_else(|| CanonicalError::new("tools", "must be an array"))?,
    };
    let mut tools = Vec::with_capacity(items.len());
    for (i, tool) in items.iter().enumerate() {
        let at = |field: &str| format!("tools[{i}]{field}");
        let function_path = || at(".function");
        let obj = tool
            .as_object()
            .ok_or_else(|| CanonicalError::new(at(""), "must be an object"))?;
        let obj = &obj;
        match field(obj, "type").and_then(|t| t.into_string()) {
            Some("function") | None => {}
            Some(_) => {
                return Err(CanonicalError::new(
                    at(".type"),
                    "only \"function\" tools are supported",
                ));
            }
        }
        let function = field(obj, "function")
            .ok_or_else(|| CanonicalError::new(at(".function"), "is required"))?;
        let f = &function
            .as_object()
            .ok_or_else(|| CanonicalError::new(at(".function"), "must be an object"))?;
        let name = take_str(f, "name", &function_path)?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| CanonicalError::new(at(".function.name"), "is required"))?;
        let parameters = match field(f, "parameters") {
            None => None,
            Some(p) if p.is_null() => None,
            Some(p) if p.is_object() => Some(RawJson::from_tape(p)),
            Some(_) => {
                return Err(CanonicalError::new(
                    at(".function.parameters"),
                    "must be a JSON Schema object",
                ));
            }
        };
        tools.push(ToolDefinition {
            name,
            description: take_str(f, "description", &function_path)?,
            parameters,
            strict: opt_bool(f, "strict").map_err(|e| e.under(&at(".function")))?,
        });
    }
    Ok(tools)
}

fn parse_tool_choice(obj: &Obj<'_, '_>) -> Result<Option<ToolChoice>, CanonicalError> {
    let Some(v) = field(obj, "tool_choice") else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(None);
    }
    let bad = || {
        CanonicalError::new(
            "tool_choice",
            "must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}",
        )
    };
    if let Some(s) = v.as_str() {
        return match s {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Required)),
            _ => Err(bad()),
        };
    }
    let name = member(v, "function")
        .and_then(|f| member(f, "name"))
        .and_then(|n| n.into_string());
    match name {
        Some(name) if member(v, "type").and_then(|t| t.into_string()) == Some("function") => {
            Ok(Some(ToolChoice::Function(name.to_owned())))
        }
        _ => Err(bad()),
    }
}

fn parse_response_format(obj: &Obj<'_, '_>) -> Result<Option<ResponseFormat>, CanonicalError> {
    let v = match field(obj, "response_format") {
        None => return Ok(None),
        Some(v) if v.is_null() => return Ok(None),
        Some(v) => v,
    };
    let rf = &v
        .as_object()
        .ok_or_else(|| CanonicalError::new("response_format", "must be an object"))?;
    match field(rf, "type").and_then(|t| t.into_string()) {
        Some("text") => Ok(Some(ResponseFormat::Text)),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let js = field(rf, "json_schema")
                .ok_or_else(|| CanonicalError::new("response_format.json_schema", "is required"))?;
            let json_schema_path = || "response_format.json_schema".to_owned();
            let js = &js.as_object().ok_or_else(|| {
                CanonicalError::new("response_format.json_schema", "must be an object")
            })?;
            let name = take_str(js, "name", &json_schema_path)?.ok_or_else(|| {
                CanonicalError::new("response_format.json_schema.name", "is required")
            })?;
            let schema = match field(js, "schema") {
                Some(s) if s.is_object() => RawJson::from_tape(s),
                // OpenAI allows omitting the schema; any JSON object then fits.
                None => RawJson::empty_object(),
                Some(s) if s.is_null() => RawJson::empty_object(),
                Some(_) => {
                    return Err(CanonicalError::new(
                        "response_format.json_schema.schema",
                        "must be a JSON Schema object",
                    ));
                }
            };
            Ok(Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name,
                description: take_str(js, "description", &json_schema_path)?,
                schema,
                strict: opt_bool(js, "strict")
                    .map_err(|e| e.under("response_format.json_schema"))?,
            })))
        }
        _ => Err(CanonicalError::new(
            "response_format.type",
            "must be \"text\", \"json_object\" or \"json_schema\"",
        )),
    }
}

impl CanonicalError {
    /// Prefixes the path with the object the field was found in.
    pub(super) fn under(self, prefix: &str) -> CanonicalError {
        CanonicalError::new(format!("{prefix}.{}", self.param()), self.message())
    }
}
