//! The cheap bound: an upper bound of a request's token count computed
//! from lengths alone, without loading or running a tokenizer, so that a
//! caller counts exactly only when the bound says the request may not fit.
//!
//! Why it holds, for every family:
//! - Text: every tokenizer here is byte-level BPE, whose tokens are each at
//!   least one byte (o200k, cl100k, Qwen, tekken, DeepSeek, the Llama 3
//!   bound), or the estimate, which never gives a character more tokens
//!   than it has bytes (`estimate.rs`, tested over every code point). So
//!   text of `n` bytes is at most `n` tokens — except for Qwen, which
//!   NFC-normalizes first, and NFC can triple a text's bytes (Unicode's
//!   stated worst case, UAX #15), so Qwen's text bound is `3n`.
//! - Overheads: each counter's fixed costs (per message, per name, per
//!   tool call, per tool, reply priming, preambles) are added at their
//!   values, or at a value no smaller.
//! - Images: the most the family's image rule allows (no header decoded).
//! - OpenAI tools: `num_tokens_for_tools` spends on a schema at most twice
//!   its JSON length (a property's `prop_key` + `key:type:description`
//!   line fits in the property's own JSON; an enum item's 3 + its tokens in
//!   twice the item and its comma), plus `func_init` + `prop_init` +
//!   the `name:description` line per tool and `func_end`.
//! - Other families' tools: the JSON they count is built from the name,
//!   description and schema; its length is computed here with escapes.
//!
//! The property test in `count::tests` checks bound ≥ count on random
//! requests for every family.

use super::Counter;
use super::image::ImageRule;
use super::openai;
use super::template::template;
use crate::canonical::{ChatRequest, ContentPart, Message, ReasoningBlock, ToolDefinition};
use crate::context_window::TokenizerFamily;

/// The most tokens `bytes_len` bytes of text can cost in `family`.
pub fn upper_bound(bytes_len: usize, family: TokenizerFamily) -> u32 {
    u32::try_from(text_bound(bytes_len as u64, family)).unwrap_or(u32::MAX)
}

fn text_bound(bytes: u64, family: TokenizerFamily) -> u64 {
    match family {
        TokenizerFamily::Qwen => bytes.saturating_mul(3),
        _ => bytes,
    }
}

/// An upper bound of [`super::count_request`] for `request` in `family`,
/// from lengths only (no tokenizer is loaded).
pub fn request_upper_bound(family: TokenizerFamily, request: &ChatRequest) -> u32 {
    let openai = Counter::new(family).openai_func_init();
    let mut total: u64 = match openai {
        Some(_) => u64::from(openai::REPLY_PRIMING),
        None => u64::from(template(family).reply),
    };
    for message in &request.messages {
        total += message_bound(family, openai.is_some(), message);
    }
    total += match openai {
        Some(func_init) => openai_tools_bound(func_init, &request.tools),
        None => templated_tools_bound(family, &request.tools),
    };
    // Every term above is text bytes or a fixed cost; scaling the lot by
    // the family's text factor keeps it a bound.
    u32::try_from(text_bound(total, family)).unwrap_or(u32::MAX)
}

fn message_bound(family: TokenizerFamily, openai: bool, message: &Message) -> u64 {
    let (fixed, rule) = if openai {
        (openai::TOKENS_PER_MESSAGE, ImageRule::OpenAiTiles)
    } else {
        let t = template(family);
        (t.per_message + t.per_tool_result, t.image)
    };
    let mut n = u64::from(fixed) + len(message.role.as_str());
    for part in &message.content {
        n += match part {
            ContentPart::Text(text) => len(text),
            ContentPart::Image(_) => u64::from(rule.largest()),
        };
    }
    if let Some(name) = &message.name {
        n += len(name) + 1;
    }
    let per_call = if openai {
        len("function")
    } else {
        u64::from(template(family).per_tool_call)
    };
    for call in &message.tool_calls {
        n += per_call + len(&call.id) + len(&call.name) + len(&call.arguments);
    }
    if let Some(id) = &message.tool_call_id {
        n += len(id);
    }
    for block in &message.reasoning {
        n += match block {
            ReasoningBlock::Thought { text, .. } => len(text),
            ReasoningBlock::Redacted { data } => len(data) / 4,
        };
    }
    n
}

fn openai_tools_bound(func_init: u32, tools: &[ToolDefinition]) -> u64 {
    if tools.is_empty() {
        return 0;
    }
    let per_tool = u64::from(func_init + openai::PROP_INIT) + 1;
    tools.iter().fold(u64::from(openai::FUNC_END), |sum, tool| {
        let description = tool.description.as_deref().map_or(0, len);
        let schema = tool.parameters.as_ref().map_or(0, |s| len(s.as_str()));
        sum + per_tool + len(&tool.name) + description + 2 * schema
    })
}

fn templated_tools_bound(family: TokenizerFamily, tools: &[ToolDefinition]) -> u64 {
    if tools.is_empty() {
        return 0;
    }
    let t = template(family);
    let fixed = u64::from(t.tools_fixed) + len(t.tools_preamble);
    tools.iter().fold(fixed, |sum, tool| {
        // `{"name":` `,"description":` `,"parameters":` `}` and the quotes.
        let punctuation = 8 + 15 + 14 + 1 + 4;
        let description = tool.description.as_deref().map_or(0, escaped_len);
        let schema = tool.parameters.as_ref().map_or(0, |s| len(s.as_str()));
        sum + u64::from(t.per_tool) + punctuation + escaped_len(&tool.name) + description + schema
    })
}

fn len(s: &str) -> u64 {
    s.len() as u64
}

/// The length of `s` as a JSON string body, escapes included.
fn escaped_len(s: &str) -> u64 {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}
