//! Parses an OpenAI Chat Completions request body into a [`ChatRequest`],
//! rejecting malformed fields with the JSON path the client got wrong.
//!
//! The body is parsed into simd-json's tape (one flat array of nodes whose
//! strings point into a per-thread scratch copy) and only what the canonical
//! model keeps is copied out, so keys and fields we ignore never allocate.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use super::parse_message::parse_message;
use super::read::{opt_bool, opt_f64, opt_i64, opt_u32, present, take_str};
use crate::canonical::tape::{BodyMap, member, with_tape};
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
    with_tape(body, |parsed, map| {
        let tape =
            parsed.map_err(|e| CanonicalError::new("", format!("body is not valid JSON: {e}")))?;
        parse_root(tape.as_value(), map)
    })
}

crate::tape_fields! {
    /// The top-level members a request may set.
    struct Top {
        model: "model",
        messages: "messages",
        tools: "tools",
        tool_choice: "tool_choice",
        parallel_tool_calls: "parallel_tool_calls",
        response_format: "response_format",
        max_completion_tokens: "max_completion_tokens",
        max_tokens: "max_tokens",
        stop: "stop",
        temperature: "temperature",
        top_p: "top_p",
        seed: "seed",
        presence_penalty: "presence_penalty",
        frequency_penalty: "frequency_penalty",
        n: "n",
        reasoning_effort: "reasoning_effort",
        thinking: "thinking",
        stream: "stream",
        stream_options: "stream_options",
        user: "user",
        metadata: "metadata",
    }
}

/// The members are found in one pass, then checked in the order the errors
/// have always been reported in, so the first complaint a client gets does
/// not change.
fn parse_root(root: Value<'_, '_>, map: BodyMap<'_>) -> Result<ChatRequest, CanonicalError> {
    let obj = root
        .as_object()
        .ok_or_else(|| CanonicalError::new("", "body must be a JSON object"))?;
    let top = &Top::read(&obj);

    let model = take_str(top.model, "model", &String::new)?
        .ok_or_else(|| CanonicalError::new("model", "is required"))?;
    let messages = match top.messages {
        None => return Err(CanonicalError::new("messages", "is required")),
        Some(v) if v.is_null() => return Err(CanonicalError::new("messages", "is required")),
        Some(v) => match v.as_array() {
            Some(items) if !items.is_empty() => {
                let mut messages = Vec::with_capacity(items.len());
                for (i, m) in items.iter().enumerate() {
                    messages.push(parse_message(i, m)?);
                }
                messages
            }
            Some(_) => return Err(CanonicalError::new("messages", "must not be empty")),
            None => return Err(CanonicalError::new("messages", "must be an array")),
        },
    };

    let (stream, include_usage) = parse_stream(top)?;
    Ok(ChatRequest {
        model,
        messages,
        tools: parse_tools(top, map)?,
        tool_choice: parse_tool_choice(top)?,
        parallel_tool_calls: opt_bool(top.parallel_tool_calls, "parallel_tool_calls")?,
        response_format: parse_response_format(top, map)?,
        sampling: parse_sampling(top)?,
        reasoning: parse_reasoning(top)?,
        stream,
        include_usage,
        user: take_str(top.user, "user", &String::new)?,
        metadata: parse_metadata(top),
    })
}

/// The string members of `metadata`. OpenAI allows only strings there, but
/// clients coming from other gateways send any JSON (LiteLLM's tag lists,
/// trace objects): what is not a string is left out, not refused.
fn parse_metadata(top: &Top<'_, '_>) -> Vec<(String, String)> {
    let Some(obj) = present(top.metadata).and_then(|v| v.as_object()) else {
        return Vec::new();
    };
    obj.iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value.as_str()?.to_owned())))
        .collect()
}

fn parse_stream(top: &Top<'_, '_>) -> Result<(bool, bool), CanonicalError> {
    let stream = opt_bool(top.stream, "stream")?.unwrap_or(false);
    let include_usage = match top.stream_options {
        None => false,
        Some(v) if v.is_null() => false,
        Some(v) if v.as_object().is_none() => {
            return Err(CanonicalError::new("stream_options", "must be an object"));
        }
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

fn parse_sampling(top: &Top<'_, '_>) -> Result<SamplingParams, CanonicalError> {
    let max_completion = opt_u32(top.max_completion_tokens, "max_completion_tokens")?;
    let max_tokens = opt_u32(top.max_tokens, "max_tokens")?;
    let stop = match top.stop {
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
        temperature: opt_f64(top.temperature, "temperature")?,
        top_p: opt_f64(top.top_p, "top_p")?,
        top_k: None,
        max_output_tokens: max_completion.or(max_tokens),
        stop,
        seed: opt_i64(top.seed, "seed")?,
        presence_penalty: opt_f64(top.presence_penalty, "presence_penalty")?,
        frequency_penalty: opt_f64(top.frequency_penalty, "frequency_penalty")?,
        n: opt_u32(top.n, "n")?,
    })
}

fn parse_reasoning(top: &Top<'_, '_>) -> Result<Option<ReasoningConfig>, CanonicalError> {
    let effort = match top.reasoning_effort {
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
    let budget_tokens = match top.thinking {
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

crate::tape_fields! {
    struct ToolFields { kind: "type", function: "function" }
}

crate::tape_fields! {
    struct FunctionFields {
        name: "name",
        description: "description",
        parameters: "parameters",
        strict: "strict",
    }
}

fn parse_tools(top: &Top<'_, '_>, map: BodyMap<'_>) -> Result<Vec<ToolDefinition>, CanonicalError> {
    let items = match top.tools {
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
        let tool = ToolFields::read(
            &tool
                .as_object()
                .ok_or_else(|| CanonicalError::new(at(""), "must be an object"))?,
        );
        match tool.kind.and_then(|t| t.into_string()) {
            Some("function") | None => {}
            Some(_) => {
                return Err(CanonicalError::new(
                    at(".type"),
                    "only \"function\" tools are supported",
                ));
            }
        }
        let function = tool
            .function
            .ok_or_else(|| CanonicalError::new(at(".function"), "is required"))?;
        let f = FunctionFields::read(
            &function
                .as_object()
                .ok_or_else(|| CanonicalError::new(at(".function"), "must be an object"))?,
        );
        let name = take_str(f.name, "name", &function_path)?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| CanonicalError::new(at(".function.name"), "is required"))?;
        let parameters = match f.parameters {
            None => None,
            Some(p) if p.is_null() => None,
            Some(p) if p.is_object() => Some(RawJson::from_body(map, p)),
            Some(_) => {
                return Err(CanonicalError::new(
                    at(".function.parameters"),
                    "must be a JSON Schema object",
                ));
            }
        };
        tools.push(ToolDefinition {
            name,
            description: take_str(f.description, "description", &function_path)?,
            parameters,
            strict: opt_bool(f.strict, "strict").map_err(|e| e.under(&at(".function")))?,
        });
    }
    Ok(tools)
}

fn parse_tool_choice(top: &Top<'_, '_>) -> Result<Option<ToolChoice>, CanonicalError> {
    let Some(v) = present(top.tool_choice) else {
        return Ok(None);
    };
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

crate::tape_fields! {
    struct FormatFields { kind: "type", json_schema: "json_schema" }
}

crate::tape_fields! {
    struct SchemaFields {
        name: "name",
        description: "description",
        schema: "schema",
        strict: "strict",
    }
}

fn parse_response_format(
    top: &Top<'_, '_>,
    map: BodyMap<'_>,
) -> Result<Option<ResponseFormat>, CanonicalError> {
    let Some(v) = present(top.response_format) else {
        return Ok(None);
    };
    let rf = FormatFields::read(
        &v.as_object()
            .ok_or_else(|| CanonicalError::new("response_format", "must be an object"))?,
    );
    match rf.kind.and_then(|t| t.into_string()) {
        Some("text") => Ok(Some(ResponseFormat::Text)),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let js = rf
                .json_schema
                .ok_or_else(|| CanonicalError::new("response_format.json_schema", "is required"))?;
            let json_schema_path = || "response_format.json_schema".to_owned();
            let js = SchemaFields::read(&js.as_object().ok_or_else(|| {
                CanonicalError::new("response_format.json_schema", "must be an object")
            })?);
            let name = take_str(js.name, "name", &json_schema_path)?.ok_or_else(|| {
                CanonicalError::new("response_format.json_schema.name", "is required")
            })?;
            let schema = match js.schema {
                Some(s) if s.is_object() => RawJson::from_body(map, s),
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
                description: take_str(js.description, "description", &json_schema_path)?,
                schema,
                strict: opt_bool(js.strict, "strict")
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
