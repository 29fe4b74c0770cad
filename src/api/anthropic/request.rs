//! Parses an Anthropic Messages request body into a [`ChatRequest`]: the
//! top-level fields, `system`, tools and tool choice here; the content
//! blocks of each message in `blocks`.
//!
//! What the canonical model cannot carry is refused with a 400 naming the
//! field, never dropped: server tools, unknown thinking modes, features
//! that run on Anthropic's side (`mcp_servers`, `container`,
//! `context_management`). `cache_control` is tolerated and not carried:
//! prompt caching is a property of the upstream, and the same-dialect path
//! forwards it untouched.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use super::blocks::{parse_message, text_blocks};
use super::output::parse_output;
use super::read::{join, object, opt_array, opt_bool, opt_f64, opt_str, opt_u32, present, req_str};
use crate::api::ApiError;
use crate::canonical::tape::{BodyMap, with_tape};
use crate::canonical::{
    CanonicalError, ChatRequest, Message, RawJson, ReasoningConfig, Role, SamplingParams,
    ToolChoice, ToolDefinition,
};

/// Parses and validates a `/v1/messages` body. Errors are 400s of type
/// `invalid_request_error` whose `param` is the offending field.
pub fn parse_messages_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    with_tape(body, |parsed, map| {
        let tape =
            parsed.map_err(|e| CanonicalError::new("", format!("body is not valid JSON: {e}")))?;
        parse_root(tape.as_value(), map)
    })
    .map_err(|e| e.to_openai())
}

/// What the route needs before it picks a path: the model and whether the
/// answer streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagesRoute {
    pub model: String,
    pub stream: bool,
    /// `model` appears once at the top level: its span can be spliced.
    pub single_model: bool,
    /// `metadata.tags`, when a client attached routing tags there.
    pub tags: Option<String>,
    pub max_tokens: Option<u32>,
    /// `metadata.user_id`: the end user.
    pub end_user: Option<String>,
}

/// Reads only `model` and `stream`, for the same-dialect path: that body
/// goes to an Anthropic upstream as is (which validates it), so nothing
/// this parser would refuse in translation, a `document` block say, is
/// refused there.
pub fn read_route_fields(body: &[u8]) -> Result<MessagesRoute, ApiError> {
    read_route(body, false)
}

/// [`read_route_fields`] for `POST /v1/messages`: also refuses what
/// Anthropic itself requires (`max_tokens`, `messages`), so the same-dialect
/// path answers a malformed body as the translated ones do.
pub fn read_messages_route(body: &[u8]) -> Result<MessagesRoute, ApiError> {
    read_route(body, true)
}

fn read_route(body: &[u8], messages_required: bool) -> Result<MessagesRoute, ApiError> {
    with_tape(body, |parsed, _| {
        let tape =
            parsed.map_err(|e| CanonicalError::new("", format!("body is not valid JSON: {e}")))?;
        let root = tape.as_value();
        let obj = root
            .as_object()
            .ok_or_else(|| CanonicalError::new("", "body must be a JSON object"))?;
        let top = RouteTop::read(&obj);
        let mut route = MessagesRoute {
            model: req_str(top.model, &|| "model".into())?.to_owned(),
            stream: opt_bool(top.stream, &|| "stream".into())?,
            single_model: crate::api::chat::count_key(&obj, "model") == 1,
            tags: crate::api::chat::metadata_tags(top.metadata),
            max_tokens: None,
            end_user: crate::api::chat::metadata_user_id(top.metadata),
        };
        if !messages_required {
            return Ok(route);
        }
        route.max_tokens = Some(max_tokens_given(opt_u32(top.max_tokens, &|| {
            "max_tokens".into()
        })?)?);
        let messages = opt_array(top.messages, &|| "messages".into())?
            .ok_or_else(|| CanonicalError::new("messages", "is required"))?;
        if messages.is_empty() {
            return Err(CanonicalError::new("messages", "must not be empty"));
        }
        Ok(route)
    })
    .map_err(|e: CanonicalError| e.to_openai())
}

/// Anthropic requires `max_tokens`: the same check on every path, so a body
/// missing it gets the same 400 whatever the upstream.
fn max_tokens_given(max_tokens: Option<u32>) -> Result<u32, CanonicalError> {
    match max_tokens {
        None => Err(CanonicalError::new("max_tokens", "is required")),
        Some(0) => Err(CanonicalError::new("max_tokens", "must be at least 1")),
        Some(n) => Ok(n),
    }
}

crate::tape_fields! {
    struct RouteTop {
        model: "model",
        stream: "stream",
        max_tokens: "max_tokens",
        messages: "messages",
        metadata: "metadata",
    }
}

crate::tape_fields! {
    struct Top {
        model: "model",
        messages: "messages",
        system: "system",
        max_tokens: "max_tokens",
        tools: "tools",
        tool_choice: "tool_choice",
        stop_sequences: "stop_sequences",
        temperature: "temperature",
        top_p: "top_p",
        top_k: "top_k",
        metadata: "metadata",
        thinking: "thinking",
        stream: "stream",
        mcp_servers: "mcp_servers",
        container: "container",
        context_management: "context_management",
        output_config: "output_config",
        output_format: "output_format",
    }
}

fn parse_root(root: Value<'_, '_>, map: BodyMap<'_>) -> Result<ChatRequest, CanonicalError> {
    let top = Top::read(
        &root
            .as_object()
            .ok_or_else(|| CanonicalError::new("", "body must be a JSON object"))?,
    );
    for (field, value) in [
        ("mcp_servers", top.mcp_servers),
        ("container", top.container),
        ("context_management", top.context_management),
    ] {
        if present(value).is_some() {
            return Err(CanonicalError::new(
                field,
                "runs on Anthropic's side and is not supported by this gateway",
            ));
        }
    }
    let model = req_str(top.model, &|| "model".into())?.to_owned();
    let max_tokens = max_tokens_given(opt_u32(top.max_tokens, &|| "max_tokens".into())?)?;

    let mut messages = parse_system(top.system)?;
    let items = opt_array(top.messages, &|| "messages".into())?
        .ok_or_else(|| CanonicalError::new("messages", "is required"))?;
    if items.is_empty() {
        return Err(CanonicalError::new("messages", "must not be empty"));
    }
    messages.reserve(items.len());
    for (i, m) in items.iter().enumerate() {
        parse_message(i, m, map, &mut messages)?;
    }

    let (tool_choice, no_parallel) = parse_tool_choice(top.tool_choice)?;
    let output = parse_output(top.output_config, top.output_format, map)?;
    let mut reasoning = parse_thinking(top.thinking)?;
    if let Some(effort) = output.effort {
        reasoning
            .get_or_insert_with(ReasoningConfig::default)
            .effort = Some(effort);
    }
    let stream = opt_bool(top.stream, &|| "stream".into())?;
    Ok(ChatRequest {
        model,
        messages,
        tools: parse_tools(top.tools, map)?,
        tool_choice,
        parallel_tool_calls: no_parallel.then_some(false),
        response_format: output.format,
        sampling: SamplingParams {
            temperature: opt_f64(top.temperature, &|| "temperature".into())?,
            top_p: opt_f64(top.top_p, &|| "top_p".into())?,
            top_k: opt_u32(top.top_k, &|| "top_k".into())?,
            max_output_tokens: Some(max_tokens),
            stop: parse_stop_sequences(top.stop_sequences)?,
            ..SamplingParams::default()
        },
        reasoning,
        stream,
        // Every Anthropic stream reports usage; ask translated upstreams for it.
        include_usage: stream,
        user: parse_user_id(top.metadata)?,
        metadata: Vec::new(),
    })
}

/// `system`: a string, or text blocks (one canonical part per block, so
/// their boundaries survive to an Anthropic upstream).
fn parse_system(value: Option<Value<'_, '_>>) -> Result<Vec<Message>, CanonicalError> {
    let Some(value) = present(value) else {
        return Ok(Vec::new());
    };
    let parts = text_blocks(value, &|| "system".into())?;
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Message::new(Role::System, parts)])
}

fn parse_stop_sequences(value: Option<Value<'_, '_>>) -> Result<Vec<String>, CanonicalError> {
    let Some(items) = opt_array(value, &|| "stop_sequences".into())? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.into_string().map(str::to_owned).ok_or_else(|| {
                CanonicalError::new(format!("stop_sequences[{i}]"), "must be a string")
            })
        })
        .collect()
}

/// `metadata.user_id`, Anthropic's only metadata field: the end user.
fn parse_user_id(value: Option<Value<'_, '_>>) -> Result<Option<String>, CanonicalError> {
    let Some(value) = present(value) else {
        return Ok(None);
    };
    let metadata = object(value, &|| "metadata".into())?;
    Ok(
        opt_str(crate::canonical::tape::field(&metadata, "user_id"), &|| {
            "metadata.user_id".into()
        })?
        .map(str::to_owned),
    )
}

crate::tape_fields! {
    struct ThinkingFields { kind: "type", budget_tokens: "budget_tokens" }
}

fn parse_thinking(value: Option<Value<'_, '_>>) -> Result<Option<ReasoningConfig>, CanonicalError> {
    let Some(value) = present(value) else {
        return Ok(None);
    };
    let t = ThinkingFields::read(&object(value, &|| "thinking".into())?);
    match opt_str(t.kind, &|| "thinking.type".into())? {
        Some("enabled") => {
            let budget = opt_u32(t.budget_tokens, &|| "thinking.budget_tokens".into())?
                .filter(|b| *b > 0)
                .ok_or_else(|| {
                    CanonicalError::new("thinking.budget_tokens", "must be a positive integer")
                })?;
            Ok(Some(ReasoningConfig {
                effort: None,
                budget_tokens: Some(budget),
            }))
        }
        Some("disabled") => Ok(None),
        Some(other) => Err(CanonicalError::new(
            "thinking.type",
            format!("thinking mode {other:?} is not supported; use \"enabled\" or \"disabled\""),
        )),
        None => Err(CanonicalError::new("thinking.type", "is required")),
    }
}

crate::tape_fields! {
    struct ToolFields {
        kind: "type",
        name: "name",
        description: "description",
        input_schema: "input_schema",
        strict: "strict",
    }
}

fn parse_tools(
    value: Option<Value<'_, '_>>,
    map: BodyMap<'_>,
) -> Result<Vec<ToolDefinition>, CanonicalError> {
    let Some(items) = opt_array(value, &|| "tools".into())? else {
        return Ok(Vec::new());
    };
    let mut tools = Vec::with_capacity(items.len());
    for (i, tool) in items.iter().enumerate() {
        let path = || format!("tools[{i}]");
        let at = |field: &str| join(&path(), field);
        let t = ToolFields::read(&object(tool, &path)?);
        // Server tools (`web_search_20250305`, `bash_20250124`, …) run on
        // Anthropic's side; no other provider can run them.
        match opt_str(t.kind, &|| at("type"))? {
            None | Some("custom") => {}
            Some(kind) => {
                return Err(CanonicalError::new(
                    at("type"),
                    format!(
                        "server tool {kind:?} is not supported; only client tools with an input_schema are"
                    ),
                ));
            }
        }
        let name = req_str(t.name, &|| at("name"))?;
        if name.is_empty() {
            return Err(CanonicalError::new(at("name"), "must not be empty"));
        }
        let schema = match present(t.input_schema) {
            Some(s) if s.is_object() => RawJson::from_body(map, s),
            Some(_) => {
                return Err(CanonicalError::new(
                    at("input_schema"),
                    "must be a JSON Schema object",
                ));
            }
            None => return Err(CanonicalError::new(at("input_schema"), "is required")),
        };
        tools.push(ToolDefinition {
            name: name.to_owned(),
            description: opt_str(t.description, &|| at("description"))?.map(str::to_owned),
            parameters: Some(schema),
            strict: present(t.strict)
                .map(|_| opt_bool(t.strict, &|| at("strict")))
                .transpose()?,
        });
    }
    Ok(tools)
}

crate::tape_fields! {
    struct ChoiceFields {
        kind: "type",
        name: "name",
        disable_parallel_tool_use: "disable_parallel_tool_use",
    }
}

/// `(tool choice, disable_parallel_tool_use)`.
fn parse_tool_choice(
    value: Option<Value<'_, '_>>,
) -> Result<(Option<ToolChoice>, bool), CanonicalError> {
    let Some(value) = present(value) else {
        return Ok((None, false));
    };
    let c = ChoiceFields::read(&object(value, &|| "tool_choice".into())?);
    let no_parallel = opt_bool(c.disable_parallel_tool_use, &|| {
        "tool_choice.disable_parallel_tool_use".into()
    })?;
    let choice = match opt_str(c.kind, &|| "tool_choice.type".into())? {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => {
            ToolChoice::Function(req_str(c.name, &|| "tool_choice.name".into())?.to_owned())
        }
        Some(_) => {
            return Err(CanonicalError::new(
                "tool_choice.type",
                "must be \"auto\", \"any\", \"tool\" or \"none\"",
            ));
        }
        None => return Err(CanonicalError::new("tool_choice.type", "is required")),
    };
    Ok((Some(choice), no_parallel))
}
