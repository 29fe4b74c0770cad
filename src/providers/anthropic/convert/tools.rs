//! Tools for the Anthropic request: the client's functions, the forced
//! JSON-answer tool that stands in for structured output on models without
//! it, and the tool choice that ties them together.

use super::ConvertError;
use crate::canonical::json::write_str;
use crate::canonical::{ChatRequest, RawJson, ResponseFormat, ToolChoice};
use crate::providers::anthropic::wire;
use crate::providers::anthropic::{AnthropicOptions, JSON_ANSWER_TOOL};

/// How a JSON answer is obtained, if the client asked for one.
pub(super) enum JsonAnswer<'a> {
    None,
    /// `output_config.format`: the model's text *is* the JSON.
    Native(&'a RawJson),
    /// A tool whose input (this schema's text) is the answer, forced through
    /// `tool_choice`.
    ForcedTool {
        schema: &'a str,
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
                schema: f.schema.as_str(),
                description: f.description.as_deref(),
            },
            // Anthropic has no "any JSON object" mode; a tool whose schema is
            // any object gives the same guarantee on every model.
            Some(ResponseFormat::JsonObject) => JsonAnswer::ForcedTool {
                schema: r#"{"type":"object"}"#,
                description: None,
            },
            Some(ResponseFormat::Text) | None => JsonAnswer::None,
        }
    }
}

/// The gateway's own tool name is not the client's to use.
pub(super) fn check_tool_names(req: &ChatRequest) -> Result<(), ConvertError> {
    match req.tools.iter().position(|t| t.name == JSON_ANSWER_TOOL) {
        None => Ok(()),
        Some(i) => Err(ConvertError::invalid(
            format!("tools[{i}].function.name"),
            format!("{JSON_ANSWER_TOOL:?} is reserved by the gateway"),
        )),
    }
}

/// Writes `,"tools":[…]` (the client's functions, then the JSON-answer tool)
/// when there is any tool; says whether there was.
pub(super) fn write_tools(
    out: &mut Vec<u8>,
    req: &ChatRequest,
    json_answer: &JsonAnswer<'_>,
    opts: &AnthropicOptions,
) -> bool {
    let forced = match json_answer {
        JsonAnswer::ForcedTool {
            schema,
            description,
        } => Some((*schema, *description)),
        _ => None,
    };
    if req.tools.is_empty() && forced.is_none() {
        return false;
    }
    out.extend_from_slice(b",\"tools\":[");
    for (i, tool) in req.tools.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let schema = match &tool.parameters {
            Some(schema) => schema.as_str(),
            None => r#"{"type":"object","properties":{}}"#,
        };
        // Strict tool use rides on the same feature as structured output.
        let strict = opts.native_structured_output && tool.strict == Some(true);
        write_tool(out, &tool.name, tool.description.as_deref(), schema, strict);
    }
    if let Some((schema, description)) = forced {
        if !req.tools.is_empty() {
            out.push(b',');
        }
        let description = description.unwrap_or(
            "Give your final answer by calling this tool; its input is the answer as JSON.",
        );
        write_tool(out, JSON_ANSWER_TOOL, Some(description), schema, false);
    }
    out.push(b']');
    true
}

fn write_tool(
    out: &mut Vec<u8>,
    name: &str,
    description: Option<&str>,
    schema: &str,
    strict: bool,
) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, name);
    if let Some(description) = description {
        out.extend_from_slice(b",\"description\":");
        write_str(out, description);
    }
    out.extend_from_slice(b",\"input_schema\":");
    out.extend_from_slice(schema.as_bytes());
    if strict {
        out.extend_from_slice(b",\"strict\":true");
    }
    out.push(b'}');
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

/// `tool_choice`, with `disable_parallel_tool_use` only when it is set.
pub(super) fn write_tool_choice(out: &mut Vec<u8>, choice: &wire::ToolChoice<'_>) {
    let no_parallel = match choice {
        wire::ToolChoice::Auto {
            disable_parallel_tool_use,
        } => {
            out.extend_from_slice(b"{\"type\":\"auto\"");
            *disable_parallel_tool_use
        }
        wire::ToolChoice::Any {
            disable_parallel_tool_use,
        } => {
            out.extend_from_slice(b"{\"type\":\"any\"");
            *disable_parallel_tool_use
        }
        wire::ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        } => {
            out.extend_from_slice(b"{\"type\":\"tool\",\"name\":");
            write_str(out, name);
            *disable_parallel_tool_use
        }
        wire::ToolChoice::None => {
            out.extend_from_slice(b"{\"type\":\"none\"");
            false
        }
    };
    if no_parallel {
        out.extend_from_slice(b",\"disable_parallel_tool_use\":true");
    }
    out.push(b'}');
}
