//! Parses an OpenAI Chat Completions request body into a [`ChatRequest`],
//! rejecting malformed fields with the JSON path the client got wrong.
//!
//! The body is parsed into a borrowed DOM (strings point into a per-thread
//! scratch copy) and only what the canonical model keeps is copied out, so
//! keys and fields we ignore never allocate.

use simd_json::BorrowedValue as Value;
use simd_json::prelude::*;

use super::parse_message::parse_message;
use super::schema::{Subtree, owned_schema};
use super::scratch::with_scratch;
use crate::canonical::{
    CanonicalError, ChatRequest, JsonSchemaFormat, ReasoningConfig, ReasoningEffort,
    ResponseFormat, SamplingParams, ToolChoice, ToolDefinition,
};

pub(super) type Obj<'v> = simd_json::borrowed::Object<'v>;

/// Parses and validates a `/v1/chat/completions` body.
///
/// Unknown top-level fields are ignored (OpenAI keeps adding them and most
/// have no meaning for other providers); known fields with the wrong type
/// are errors.
pub fn parse_openai_request(body: &[u8]) -> Result<ChatRequest, CanonicalError> {
    with_scratch(body, |parsed| {
        let root =
            parsed.map_err(|e| CanonicalError::new("", format!("body is not valid JSON: {e}")))?;
        parse_root(body, &root)
    })
}

/// Each field is looked up once, in the order the errors have always been
/// reported in, so the first complaint a client gets does not change.
fn parse_root(body: &[u8], root: &Value) -> Result<ChatRequest, CanonicalError> {
    let obj = root
        .as_object()
        .ok_or_else(|| CanonicalError::new("", "body must be a JSON object"))?;

    let model = take_str(obj, "model", &String::new)?
        .ok_or_else(|| CanonicalError::new("model", "is required"))?;
    let messages = match obj.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, m)| parse_message(i, m))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => {
            return Err(CanonicalError::new("messages", "must not be empty"));
        }
        None | Some(Value::Static(StaticNode::Null)) => {
            return Err(CanonicalError::new("messages", "is required"));
        }
        Some(_) => return Err(CanonicalError::new("messages", "must be an array")),
    };

    let (stream, include_usage) = parse_stream(obj)?;
    Ok(ChatRequest {
        model,
        messages,
        tools: parse_tools(body, obj)?,
        tool_choice: parse_tool_choice(obj)?,
        parallel_tool_calls: opt_bool(obj, "parallel_tool_calls")?,
        response_format: parse_response_format(body, obj)?,
        sampling: parse_sampling(obj)?,
        reasoning: parse_reasoning(obj)?,
        stream,
        include_usage,
        user: take_str(obj, "user", &String::new)?,
    })
}

fn parse_stream(obj: &Obj<'_>) -> Result<(bool, bool), CanonicalError> {
    let stream = opt_bool(obj, "stream")?.unwrap_or(false);
    let include_usage = match obj.get("stream_options") {
        None => false,
        Some(v) if v.is_null() => false,
        Some(v) => match v.get("include_usage") {
            None => false,
            Some(u) if u.is_null() => false,
            Some(u) => u.as_bool().ok_or_else(|| {
                CanonicalError::new("stream_options.include_usage", "must be a boolean")
            })?,
        },
    };
    Ok((stream, include_usage))
}

fn parse_sampling(obj: &Obj<'_>) -> Result<SamplingParams, CanonicalError> {
    let max_completion = opt_u32(obj, "max_completion_tokens")?;
    let max_tokens = opt_u32(obj, "max_tokens")?;
    let stop = match obj.get("stop") {
        None => Vec::new(),
        Some(Value::Static(StaticNode::Null)) => Vec::new(),
        Some(Value::String(s)) => vec![s.to_string()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.to_string()),
                _ => Err(CanonicalError::new(
                    format!("stop[{i}]"),
                    "must be a string",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(CanonicalError::new(
                "stop",
                "must be a string or an array of strings",
            ));
        }
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

fn parse_reasoning(obj: &Obj<'_>) -> Result<Option<ReasoningConfig>, CanonicalError> {
    let effort = match obj.get("reasoning_effort") {
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
    let budget_tokens = match obj.get("thinking") {
        None => None,
        Some(v) if v.is_null() => None,
        Some(v) => match v.get_str("type") {
            Some("enabled") => Some(
                v.get_u64("budget_tokens")
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

fn parse_tools(body: &[u8], obj: &Obj<'_>) -> Result<Vec<ToolDefinition>, CanonicalError> {
    let items = match obj.get("tools") {
        None | Some(Value::Static(StaticNode::Null)) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(CanonicalError::new("tools", "must be an array")),
    };
    let mut tools = Vec::with_capacity(items.len());
    for (i, tool) in items.iter().enumerate() {
        let at = |field: &str| format!("tools[{i}]{field}");
        let function_path = || at(".function");
        let obj = tool
            .as_object()
            .ok_or_else(|| CanonicalError::new(at(""), "must be an object"))?;
        match obj.get("type").and_then(|t| t.as_str()) {
            Some("function") | None => {}
            Some(_) => {
                return Err(CanonicalError::new(
                    at(".type"),
                    "only \"function\" tools are supported",
                ));
            }
        }
        let function = obj
            .get("function")
            .ok_or_else(|| CanonicalError::new(at(".function"), "is required"))?;
        let f = function
            .as_object()
            .ok_or_else(|| CanonicalError::new(at(".function"), "must be an object"))?;
        let name = take_str(f, "name", &function_path)?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| CanonicalError::new(at(".function.name"), "is required"))?;
        let parameters = match f.get("parameters") {
            None | Some(Value::Static(StaticNode::Null)) => None,
            Some(p @ Value::Object(_)) => Some(owned_schema(body, p, Subtree::ToolParameters(i))),
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

fn parse_tool_choice(obj: &Obj<'_>) -> Result<Option<ToolChoice>, CanonicalError> {
    let Some(v) = obj.get("tool_choice") else {
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
    match v.get("function").and_then(|f| f.get_str("name")) {
        Some(name) if v.get_str("type") == Some("function") => {
            Ok(Some(ToolChoice::Function(name.to_owned())))
        }
        _ => Err(bad()),
    }
}

fn parse_response_format(
    body: &[u8],
    obj: &Obj<'_>,
) -> Result<Option<ResponseFormat>, CanonicalError> {
    let v = match obj.get("response_format") {
        None | Some(Value::Static(StaticNode::Null)) => return Ok(None),
        Some(v) => v,
    };
    let rf = v
        .as_object()
        .ok_or_else(|| CanonicalError::new("response_format", "must be an object"))?;
    match rf.get("type").and_then(|t| t.as_str()) {
        Some("text") => Ok(Some(ResponseFormat::Text)),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let js = rf
                .get("json_schema")
                .ok_or_else(|| CanonicalError::new("response_format.json_schema", "is required"))?;
            let json_schema_path = || "response_format.json_schema".to_owned();
            let js = js.as_object().ok_or_else(|| {
                CanonicalError::new("response_format.json_schema", "must be an object")
            })?;
            let name = take_str(js, "name", &json_schema_path)?.ok_or_else(|| {
                CanonicalError::new("response_format.json_schema.name", "is required")
            })?;
            let schema = match js.get("schema") {
                Some(s @ Value::Object(_)) => owned_schema(body, s, Subtree::ResponseSchema),
                // OpenAI allows omitting the schema; any JSON object then fits.
                None | Some(Value::Static(StaticNode::Null)) => {
                    simd_json::OwnedValue::Object(Box::default())
                }
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

/// Copies out a string field; `null` counts as absent. `parent` renders the
/// path of the enclosing object, only when there is an error to report, so
/// the success path never formats paths.
pub(super) fn take_str(
    obj: &Obj<'_>,
    key: &str,
    parent: &dyn Fn() -> String,
) -> Result<Option<String>, CanonicalError> {
    match obj.get(key) {
        None | Some(Value::Static(StaticNode::Null)) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.to_string())),
        Some(_) => Err(CanonicalError::new(
            join(&parent(), key),
            "must be a string",
        )),
    }
}

/// `parent.key`, or just `key` at the top level.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn present<'a, 'v>(obj: &'a Obj<'v>, key: &str) -> Option<&'a Value<'v>> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(super) fn opt_bool(obj: &Obj<'_>, key: &str) -> Result<Option<bool>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| CanonicalError::new(key, "must be a boolean"))
        })
        .transpose()
}

fn opt_f64(obj: &Obj<'_>, key: &str) -> Result<Option<f64>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.cast_f64()
                .ok_or_else(|| CanonicalError::new(key, "must be a number"))
        })
        .transpose()
}

fn opt_i64(obj: &Obj<'_>, key: &str) -> Result<Option<i64>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| CanonicalError::new(key, "must be an integer"))
        })
        .transpose()
}

fn opt_u32(obj: &Obj<'_>, key: &str) -> Result<Option<u32>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| CanonicalError::new(key, "must be a non-negative integer"))
        })
        .transpose()
}
