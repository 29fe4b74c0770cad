//! Canonical request → OpenAI Chat Completions body, for clients of another
//! dialect (Anthropic Messages) routed to an OpenAI-compatible upstream.
//!
//! Written by hand into one buffer (no serde, no intermediate values). What
//! Chat Completions has no field for is left out on purpose and listed here:
//! replayed reasoning blocks (their signatures belong to the provider that
//! made them, and DeepSeek refuses `reasoning_content` in input messages),
//! `metadata` (gateway-only tags), and `parallel_tool_calls` / `tool_choice`
//! without tools (OpenAI refuses both; with no tools there is nothing to
//! choose).

use crate::canonical::json::{write_f64, write_i64, write_list, write_str, write_u64};
use crate::canonical::{
    ChatRequest, ContentPart, Image, ImageSource, Message, ReasoningConfig, ReasoningEffort,
    ResponseFormat, Role, SamplingParams, ToolChoice, ToolDefinition,
};

/// Appends `req` as a Chat Completions body for `upstream_model`.
///
/// The output limit goes out as `max_completion_tokens`, OpenAI's current
/// name and the only one its reasoning models accept; providers that know
/// only `max_tokens` (Mistral, older vLLM) get it renamed by their
/// configured `rename_fields`, as on the passthrough path.
///
/// A stream always asks for `stream_options.include_usage`: the gateway
/// records usage for every answer, whether the client asked for it or not.
pub fn write_request(req: &ChatRequest, upstream_model: &str, out: &mut Vec<u8>) {
    out.reserve(256 + req.messages.len() * 64);
    out.extend_from_slice(b"{\"model\":");
    write_str(out, upstream_model);
    out.extend_from_slice(b",\"messages\":[");
    write_messages(&req.messages, out);
    out.push(b']');
    if !req.tools.is_empty() {
        out.extend_from_slice(b",\"tools\":");
        write_list(out, &req.tools, write_tool);
        if let Some(parallel) = req.parallel_tool_calls {
            out.extend_from_slice(b",\"parallel_tool_calls\":");
            out.extend_from_slice(if parallel { b"true" } else { b"false" });
        }
        if let Some(choice) = &req.tool_choice {
            out.extend_from_slice(b",\"tool_choice\":");
            write_tool_choice(choice, out);
        }
    }
    if let Some(format) = &req.response_format {
        out.extend_from_slice(b",\"response_format\":");
        write_response_format(format, out);
    }
    write_sampling(&req.sampling, out);
    if let Some(effort) = req.reasoning.and_then(effort_of) {
        out.extend_from_slice(b",\"reasoning_effort\":");
        write_str(out, effort.as_str());
    }
    if let Some(user) = &req.user {
        out.extend_from_slice(b",\"user\":");
        write_str(out, user);
    }
    if req.stream {
        out.extend_from_slice(b",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    }
    out.push(b'}');
}

/// The effort to ask for: the client's level, else one derived from an
/// explicit budget (Anthropic / Gemini style) at the thresholds other
/// gateways use (LiteLLM maps the same way, in reverse).
pub fn effort_of(reasoning: ReasoningConfig) -> Option<ReasoningEffort> {
    if let Some(effort) = reasoning.effort {
        return Some(effort);
    }
    reasoning.budget_tokens.map(|budget| match budget {
        0 => ReasoningEffort::None,
        1..=2047 => ReasoningEffort::Low,
        2048..=8191 => ReasoningEffort::Medium,
        _ => ReasoningEffort::High,
    })
}

/// Messages in client order. Chat Completions takes only text in a `tool`
/// message, so images a tool returned (Anthropic tool results may carry
/// them) follow the run of tool messages as one user message: the tool
/// results must stay right after the assistant turn that called them.
fn write_messages(messages: &[Message], out: &mut Vec<u8>) {
    let mut first = true;
    let mut held_images: Vec<&Image> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        if !first {
            out.push(b',');
        }
        first = false;
        write_message(message, out, &mut held_images);
        let run_ends = messages
            .get(i + 1)
            .is_none_or(|next| next.role != Role::Tool);
        if run_ends && !held_images.is_empty() {
            out.extend_from_slice(b",{\"role\":\"user\",\"content\":[");
            for (k, image) in held_images.drain(..).enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_image(image, out);
            }
            out.extend_from_slice(b"]}");
        }
    }
}

fn write_message<'m>(message: &'m Message, out: &mut Vec<u8>, held_images: &mut Vec<&'m Image>) {
    out.extend_from_slice(b"{\"role\":");
    write_str(out, message.role.as_str());
    out.extend_from_slice(b",\"content\":");
    match message.role {
        Role::Tool => {
            // Text only: images go to the user message after the run.
            let mut texts = Vec::with_capacity(message.content.len());
            for part in &message.content {
                match part {
                    ContentPart::Text(text) => texts.push(text.as_str()),
                    ContentPart::Image(image) => held_images.push(image),
                }
            }
            match texts.as_slice() {
                [one] => write_str(out, one),
                _ => write_list(out, &texts, |out, text| write_text_part(text, out)),
            }
        }
        Role::Assistant if message.content.is_empty() => out.extend_from_slice(b"null"),
        _ => write_content(message, out),
    }
    if let Some(name) = &message.name {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    if !message.tool_calls.is_empty() {
        out.extend_from_slice(b",\"tool_calls\":");
        write_list(out, &message.tool_calls, |out, call| {
            out.extend_from_slice(b"{\"id\":");
            write_str(out, &call.id);
            out.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
            write_str(out, &call.name);
            out.extend_from_slice(b",\"arguments\":");
            write_str(out, &call.arguments);
            out.extend_from_slice(b"}}");
        });
    }
    if let Some(id) = &message.tool_call_id {
        out.extend_from_slice(b",\"tool_call_id\":");
        write_str(out, id);
    }
    out.push(b'}');
}

/// One text part goes out as a plain string (what every compatible server
/// accepts); anything else as an array of parts.
fn write_content(message: &Message, out: &mut Vec<u8>) {
    match &*message.content {
        [ContentPart::Text(text)] => write_str(out, text),
        parts => write_list(out, parts, |out, part| match part {
            ContentPart::Text(text) => write_text_part(text, out),
            ContentPart::Image(image) => write_image(image, out),
        }),
    }
}

fn write_text_part(text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
    write_str(out, text);
    out.push(b'}');
}

/// Inline images travel as `data:` URLs, the only inline form OpenAI takes.
fn write_image(image: &Image, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":\"image_url\",\"image_url\":{\"url\":");
    match &image.source {
        ImageSource::Url(url) => write_str(out, url),
        ImageSource::Base64 { media_type, data } => {
            write_str(out, &format!("data:{media_type};base64,{data}"));
        }
    }
    if let Some(detail) = &image.detail {
        out.extend_from_slice(b",\"detail\":");
        write_str(out, detail);
    }
    out.extend_from_slice(b"}}");
}

fn write_tool(out: &mut Vec<u8>, tool: &ToolDefinition) {
    out.extend_from_slice(b"{\"type\":\"function\",\"function\":{\"name\":");
    write_str(out, &tool.name);
    if let Some(description) = &tool.description {
        out.extend_from_slice(b",\"description\":");
        write_str(out, description);
    }
    if let Some(parameters) = &tool.parameters {
        out.extend_from_slice(b",\"parameters\":");
        out.extend_from_slice(parameters.as_str().as_bytes());
    }
    if let Some(strict) = tool.strict {
        out.extend_from_slice(b",\"strict\":");
        out.extend_from_slice(if strict { b"true" } else { b"false" });
    }
    out.extend_from_slice(b"}}");
}

fn write_tool_choice(choice: &ToolChoice, out: &mut Vec<u8>) {
    match choice {
        ToolChoice::Auto => out.extend_from_slice(b"\"auto\""),
        ToolChoice::None => out.extend_from_slice(b"\"none\""),
        ToolChoice::Required => out.extend_from_slice(b"\"required\""),
        ToolChoice::Function(name) => {
            out.extend_from_slice(b"{\"type\":\"function\",\"function\":{\"name\":");
            write_str(out, name);
            out.extend_from_slice(b"}}");
        }
    }
}

fn write_response_format(format: &ResponseFormat, out: &mut Vec<u8>) {
    match format {
        ResponseFormat::Text => out.extend_from_slice(b"{\"type\":\"text\"}"),
        ResponseFormat::JsonObject => out.extend_from_slice(b"{\"type\":\"json_object\"}"),
        ResponseFormat::JsonSchema(schema) => {
            out.extend_from_slice(b"{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
            write_str(out, &schema.name);
            if let Some(description) = &schema.description {
                out.extend_from_slice(b",\"description\":");
                write_str(out, description);
            }
            out.extend_from_slice(b",\"schema\":");
            out.extend_from_slice(schema.schema.as_str().as_bytes());
            if let Some(strict) = schema.strict {
                out.extend_from_slice(b",\"strict\":");
                out.extend_from_slice(if strict { b"true" } else { b"false" });
            }
            out.extend_from_slice(b"}}");
        }
    }
}

fn write_sampling(s: &SamplingParams, out: &mut Vec<u8>) {
    let number = |key: &[u8], value: Option<f64>, out: &mut Vec<u8>| {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            out.extend_from_slice(key);
            write_f64(out, v);
        }
    };
    number(b",\"temperature\":", s.temperature, out);
    number(b",\"top_p\":", s.top_p, out);
    number(b",\"presence_penalty\":", s.presence_penalty, out);
    number(b",\"frequency_penalty\":", s.frequency_penalty, out);
    if let Some(max) = s.max_output_tokens {
        out.extend_from_slice(b",\"max_completion_tokens\":");
        write_u64(out, u64::from(max));
    }
    if !s.stop.is_empty() {
        out.extend_from_slice(b",\"stop\":");
        write_list(out, &s.stop, |out, stop| write_str(out, stop));
    }
    if let Some(seed) = s.seed {
        out.extend_from_slice(b",\"seed\":");
        write_i64(out, seed);
    }
    if let Some(n) = s.n {
        out.extend_from_slice(b",\"n\":");
        write_u64(out, u64::from(n));
    }
}
