//! Tools for the Anthropic request: the client's functions, the forced
//! JSON-answer tool that stands in for structured output on models without
//! it, and the tool choice that ties them together.

use std::borrow::Cow;

use super::ConvertError;
use crate::canonical::{ChatRequest, RawJson, ResponseFormat, ToolChoice};
use crate::providers::anthropic::wire;
use crate::providers::anthropic::{AnthropicOptions, JSON_ANSWER_TOOL};

/// How a JSON answer is obtained, if the client asked for one.
pub(super) enum JsonAnswer<'a> {
    None,
    /// `output_config.format`: the model's text *is* the JSON.
    Native(&'a RawJson),
    /// A tool whose input is the answer, forced through `tool_choice`.
    ForcedTool {
        schema: Cow<'a, RawJson>,
        description: Option<&'a str>,
    },
}

impl<'a> JsonAnswer<'a> {
    pub(super) fn of(req: &'a ChatRequest, opts: &AnthropicOptions) -> Self {
        match &req.response_format {
            Some(ResponseFormat::JsonSchema(f)) if opts.native_structured_output => {
                JsonAnswer::Native(&f.schema)
            }
            Some(ResponseFormat::JsonSchema(f)) => JsonAnswer::ForcedTool {
                schema: Cow::Borrowed(&f.schema),
                description: f.description.as_deref(),
            },
            // Anthropic has no "any JSON object" mode; a tool whose schema is
            // any object gives the same guarantee on every model.
            Some(ResponseFormat::JsonObject) => JsonAnswer::ForcedTool {
                schema: Cow::Owned(RawJson::literal(r#"{"type":"object"}"#)),
                description: None,
            },
            Some(ResponseFormat::Text) | None => JsonAnswer::None,
        }
    }
}

pub(super) fn build_tools<'a>(
    req: &'a ChatRequest,
    json_answer: &JsonAnswer<'a>,
    opts: &AnthropicOptions,
) -> Result<Vec<wire::Tool<'a>>, ConvertError> {
    let mut tools = Vec::with_capacity(req.tools.len() + 1);
    for (i, tool) in req.tools.iter().enumerate() {
        if tool.name == JSON_ANSWER_TOOL {
            return Err(ConvertError::invalid(
                format!("tools[{i}].function.name"),
                format!("{JSON_ANSWER_TOOL:?} is reserved by the gateway"),
            ));
        }
        tools.push(wire::Tool {
            name: &tool.name,
            description: tool.description.as_deref(),
            input_schema: match &tool.parameters {
                Some(schema) => Cow::Borrowed(schema),
                None => Cow::Owned(RawJson::literal(r#"{"type":"object","properties":{}}"#)),
            },
            // Strict tool use rides on the same feature as structured output.
            strict: (opts.native_structured_output && tool.strict == Some(true)).then_some(true),
        });
    }
    if let JsonAnswer::ForcedTool {
        schema,
        description,
    } = json_answer
    {
        tools.push(wire::Tool {
            name: JSON_ANSWER_TOOL,
            description: Some(description.unwrap_or(
                "Give your final answer by calling this tool; its input is the answer as JSON.",
            )),
            input_schema: schema.clone(),
            strict: None,
        });
    }
    Ok(tools)
}

pub(super) fn build_tool_choice<'a>(
    req: &'a ChatRequest,
    json_answer: &JsonAnswer<'a>,
    have_tools: bool,
    thinking: bool,
) -> Option<wire::ToolChoice<'a>> {
    use wire::ToolChoice as W;
    if !have_tools {
        return None;
    }
    let no_parallel = req.parallel_tool_calls == Some(false);
    if let JsonAnswer::ForcedTool { .. } = json_answer {
        // Anthropic rejects forced tool use together with thinking; then the
        // answer tool is offered, not forced.
        if thinking {
            return Some(W::Auto {
                disable_parallel_tool_use: no_parallel,
            });
        }
        return Some(match &req.tool_choice {
            Some(ToolChoice::Function(name)) => W::Tool {
                name,
                disable_parallel_tool_use: no_parallel,
            },
            // The turn must end in a tool call: a client tool or the answer.
            None | Some(ToolChoice::Auto) | Some(ToolChoice::Required) if !req.tools.is_empty() => {
                W::Any {
                    disable_parallel_tool_use: no_parallel,
                }
            }
            _ => W::Tool {
                name: JSON_ANSWER_TOOL,
                disable_parallel_tool_use: no_parallel,
            },
        });
    }
    match &req.tool_choice {
        None if no_parallel => Some(W::Auto {
            disable_parallel_tool_use: true,
        }),
        None => None,
        Some(ToolChoice::Auto) => Some(W::Auto {
            disable_parallel_tool_use: no_parallel,
        }),
        Some(ToolChoice::Required) => Some(W::Any {
            disable_parallel_tool_use: no_parallel,
        }),
        Some(ToolChoice::Function(name)) => Some(W::Tool {
            name,
            disable_parallel_tool_use: no_parallel,
        }),
        Some(ToolChoice::None) => Some(W::None),
    }
}
