//! Writes canonical answers in OpenAI's shapes: the `chat.completion` body,
//! `chat.completion.chunk` SSE events, the usage-only chunk, `[DONE]`, and
//! the explicit error event for failures after the stream has started.

use crate::canonical::json::{write_opt_str, write_str, write_u64};
use crate::canonical::{
    AssistantMessage, ChatChunk, ChatResponse, ChunkDelta, OpenAiError, ReasoningBlock, ToolCall,
    Usage,
};

/// The per-stream fields every chunk repeats. The JSON prefix is rendered
/// once here so each chunk only copies it.
#[derive(Debug, Clone)]
pub struct ChunkContext {
    prefix: Vec<u8>,
}

impl ChunkContext {
    pub fn new(id: &str, created: u64, model: &str) -> Self {
        let mut prefix = Vec::with_capacity(96 + id.len() + model.len());
        prefix.extend_from_slice(b"data: {\"id\":");
        write_str(&mut prefix, id);
        prefix.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        write_u64(&mut prefix, created);
        prefix.extend_from_slice(b",\"model\":");
        write_str(&mut prefix, model);
        prefix.extend_from_slice(b",\"choices\":");
        ChunkContext { prefix }
    }
}

/// Appends one SSE event (`data: {...}\n\n`) for `chunk`.
pub fn write_openai_chunk(chunk: &ChatChunk, ctx: &ChunkContext, out: &mut Vec<u8>) {
    out.extend_from_slice(&ctx.prefix);
    match chunk {
        ChatChunk::Delta {
            choice,
            delta,
            finish_reason,
        } => {
            out.extend_from_slice(b"[{\"index\":");
            write_u64(out, u64::from(*choice));
            out.extend_from_slice(b",\"delta\":");
            write_delta(delta, out);
            out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
            write_opt_str(out, finish_reason.map(|f| f.as_str()));
            out.extend_from_slice(b"}]}\n\n");
        }
        ChatChunk::Usage(usage) => {
            out.extend_from_slice(b"[],\"usage\":");
            write_usage(usage, out);
            out.extend_from_slice(b"}\n\n");
        }
    }
}

fn write_delta(delta: &ChunkDelta, out: &mut Vec<u8>) {
    let mut sep = Separator::default();
    out.push(b'{');
    if let Some(role) = delta.role {
        sep.key(out, "role");
        write_str(out, role.as_str());
    }
    if let Some(text) = &delta.content {
        sep.key(out, "content");
        write_str(out, text);
    }
    if let Some(text) = &delta.refusal {
        sep.key(out, "refusal");
        write_str(out, text);
    }
    if let Some(text) = &delta.reasoning {
        sep.key(out, "reasoning_content");
        write_str(out, text);
    }
    if let Some(sig) = &delta.reasoning_signature {
        sep.key(out, "thinking_blocks");
        out.extend_from_slice(b"[{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":");
        write_str(out, sig);
        out.extend_from_slice(b"}]");
    } else if let Some(data) = &delta.redacted_reasoning {
        sep.key(out, "thinking_blocks");
        out.extend_from_slice(b"[{\"type\":\"redacted_thinking\",\"data\":");
        write_str(out, data);
        out.extend_from_slice(b"}]");
    }
    if let Some(call) = &delta.tool_call {
        sep.key(out, "tool_calls");
        out.extend_from_slice(b"[{\"index\":");
        write_u64(out, u64::from(call.index));
        if let Some(id) = &call.id {
            out.extend_from_slice(b",\"id\":");
            write_str(out, id);
            out.extend_from_slice(b",\"type\":\"function\"");
        }
        out.extend_from_slice(b",\"function\":{");
        if let Some(name) = &call.name {
            out.extend_from_slice(b"\"name\":");
            write_str(out, name);
            out.push(b',');
        }
        out.extend_from_slice(b"\"arguments\":");
        write_str(out, &call.arguments);
        out.extend_from_slice(b"}}]");
    }
    out.push(b'}');
}

/// Appends `data: [DONE]\n\n`, the clean end of an OpenAI stream.
pub fn write_openai_done(out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

/// Appends an explicit error event for a failure after the first byte went
/// out, so a client never mistakes a cut stream for a finished one.
pub fn write_openai_stream_error(err: &OpenAiError, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    err.write_body(out);
    out.extend_from_slice(b"\n\n");
}

/// Appends a whole `chat.completion` object.
pub fn write_openai_response(resp: &ChatResponse, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    write_str(out, &resp.id);
    out.extend_from_slice(b",\"object\":\"chat.completion\",\"created\":");
    write_u64(out, resp.created);
    out.extend_from_slice(b",\"model\":");
    write_str(out, &resp.model);
    out.extend_from_slice(b",\"choices\":[");
    for (i, choice) in resp.choices.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"index\":");
        write_u64(out, u64::from(choice.index));
        out.extend_from_slice(b",\"message\":");
        write_message(&choice.message, out);
        out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        write_opt_str(out, choice.finish_reason.map(|f| f.as_str()));
        out.push(b'}');
    }
    out.push(b']');
    if let Some(usage) = &resp.usage {
        out.extend_from_slice(b",\"usage\":");
        write_usage(usage, out);
    }
    out.push(b'}');
}

fn write_message(msg: &AssistantMessage, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"role\":\"assistant\",\"content\":");
    write_opt_str(out, msg.content.as_deref());
    out.extend_from_slice(b",\"refusal\":");
    write_opt_str(out, msg.refusal.as_deref());
    if !msg.tool_calls.is_empty() {
        out.extend_from_slice(b",\"tool_calls\":[");
        for (i, call) in msg.tool_calls.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_tool_call(call, out);
        }
        out.push(b']');
    }
    if !msg.reasoning.is_empty() {
        write_reasoning(&msg.reasoning, out);
    }
    out.push(b'}');
}

fn write_tool_call(call: &ToolCall, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    write_str(out, &call.id);
    out.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
    write_str(out, &call.name);
    out.extend_from_slice(b",\"arguments\":");
    write_str(out, &call.arguments);
    out.extend_from_slice(b"}}");
}

/// `reasoning_content` is the readable text; `thinking_blocks` keeps each
/// block with its signature so the client can replay it next turn.
fn write_reasoning(blocks: &[ReasoningBlock], out: &mut Vec<u8>) {
    let mut text = String::new();
    for block in blocks {
        if let ReasoningBlock::Thought { text: t, .. } = block {
            text.push_str(t);
        }
    }
    out.extend_from_slice(b",\"reasoning_content\":");
    write_str(out, &text);
    out.extend_from_slice(b",\"thinking_blocks\":[");
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match block {
            ReasoningBlock::Thought { text, signature } => {
                out.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
                write_str(out, text);
                out.extend_from_slice(b",\"signature\":");
                write_opt_str(out, signature.as_deref());
            }
            ReasoningBlock::Redacted { data } => {
                out.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
                write_str(out, data);
            }
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends an OpenAI `usage` object. `cache_creation_tokens` is not an
/// OpenAI field; it rides in `prompt_tokens_details` (clients ignore unknown
/// keys) only when non-zero, so cost accounting downstream can see it.
pub fn write_usage(usage: &Usage, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"prompt_tokens\":");
    write_u64(out, usage.prompt_tokens);
    out.extend_from_slice(b",\"completion_tokens\":");
    write_u64(out, usage.completion_tokens);
    out.extend_from_slice(b",\"total_tokens\":");
    write_u64(out, usage.total_tokens);
    out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
    write_u64(out, usage.cached_prompt_tokens);
    if usage.cache_creation_tokens > 0 {
        out.extend_from_slice(b",\"cache_creation_tokens\":");
        write_u64(out, usage.cache_creation_tokens);
    }
    out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
    write_u64(out, usage.reasoning_tokens);
    out.extend_from_slice(b"}}");
}

/// Writes `,` between object members.
#[derive(Default)]
struct Separator {
    started: bool,
}

impl Separator {
    fn key(&mut self, out: &mut Vec<u8>, key: &str) {
        if self.started {
            out.push(b',');
        }
        self.started = true;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    }
}
