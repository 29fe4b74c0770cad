//! The input-token estimate `/v1/messages/count_tokens` answers for an
//! upstream without a count endpoint, until a real tokenizer-backed
//! counter replaces it.
//!
//! It is meant as an upper bound, so a client sizing its context never
//! overruns: Claude's tokenizer averages about 3.5–4 bytes of English per
//! token and few real texts fall below 3, so text counts as bytes / 3
//! (rounded up). Fixed costs sit on top: each message's role markers, each
//! tool's definition wrapper, the tool-use system prompt Anthropic adds when
//! tools are present (≈ 350 tokens), and each image at the 1,600-token cap
//! Anthropic documents for an image scaled to its size limit (the pixel size
//! is not read).

use crate::canonical::{ChatRequest, ContentPart, ReasoningBlock};

const PER_REQUEST: u64 = 8;
const PER_MESSAGE: u64 = 6;
const PER_TOOL: u64 = 16;
const TOOL_SYSTEM_PROMPT: u64 = 350;
const PER_TOOL_CALL: u64 = 12;
const PER_IMAGE: u64 = 1600;

/// An upper-bound estimate of the input tokens `req` costs.
pub fn estimate_input_tokens(req: &ChatRequest) -> u32 {
    let mut bytes = 0u64;
    let mut fixed = PER_REQUEST;
    for m in &req.messages {
        fixed += PER_MESSAGE;
        for part in &m.content {
            match part {
                ContentPart::Text(t) => bytes += t.len() as u64,
                ContentPart::Image(_) => fixed += PER_IMAGE,
            }
        }
        for call in &m.tool_calls {
            fixed += PER_TOOL_CALL;
            bytes += (call.id.len() + call.name.len() + call.arguments.len()) as u64;
        }
        for block in &m.reasoning {
            bytes += match block {
                ReasoningBlock::Thought { text, .. } => text.len(),
                ReasoningBlock::Redacted { data } => data.len(),
            } as u64;
        }
        bytes += m.tool_call_id.as_ref().map_or(0, |id| id.len() as u64);
    }
    if !req.tools.is_empty() {
        fixed += TOOL_SYSTEM_PROMPT;
    }
    for tool in &req.tools {
        fixed += PER_TOOL;
        bytes += tool.name.len() as u64
            + tool.description.as_ref().map_or(0, |d| d.len() as u64)
            + tool
                .parameters
                .as_ref()
                .map_or(0, |p| p.as_str().len() as u64);
    }
    u32::try_from(bytes.div_ceil(3) + fixed).unwrap_or(u32::MAX)
}
