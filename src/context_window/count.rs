//! Token counting per tokenizer family: a [`Counter`] per family that
//! implements [`CountTokens`] the way that family's provider counts a
//! prompt, [`count_request`] to count a whole request, and the cheap
//! [`bound`] that lets a caller skip counting when a request surely fits.
//!
//! Which tokenizer each family uses, its data and licence, and which
//! counts are exact, bounds or estimates: `tokenizers.rs`. The OpenAI rule:
//! `openai.rs`; the other families' chat-format overheads: `template.rs`;
//! images: `image.rs`; the no-tokenizer estimate: `estimate.rs`.

pub mod bound;
pub mod estimate;
pub mod image;
pub mod openai;
pub mod rank_bpe;
pub mod template;
pub mod tokenizers;

#[cfg(test)]
mod tests;

pub use bound::{request_upper_bound, upper_bound};
pub use tokenizers::TextCounter;

use self::template::Template;
use super::{CountTokens, TokenizerFamily};
use crate::canonical::{ChatRequest, ContentPart, Message, ReasoningBlock, Role, ToolDefinition};

/// Counts prompts for one tokenizer family. Free to make and to copy: it
/// loads nothing itself; the tokenizer behind it is built once per process,
/// on the first count any counter of the family makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    family: TokenizerFamily,
}

impl Counter {
    pub const fn new(family: TokenizerFamily) -> Counter {
        Counter { family }
    }

    pub fn family(&self) -> TokenizerFamily {
        self.family
    }

    /// The family's tokenizer (built on first use).
    fn tokenizer(&self) -> TextCounter {
        TextCounter::for_family(self.family)
    }

    /// Tokens of bare text, without any message overhead.
    pub fn text(&self, text: &str) -> u32 {
        self.tokenizer().count(text)
    }

    /// Whether counts come from the provider's own tokenizer (text exact;
    /// chat overheads as documented) rather than an upper bound or an
    /// estimate. Answered without loading anything.
    pub fn is_exact(&self) -> bool {
        use TokenizerFamily as F;
        matches!(
            self.family,
            F::O200k | F::Cl100k | F::Qwen | F::MistralTekken | F::DeepSeek
        )
    }

    /// OpenAI families count by the cookbook rule: their `func_init`.
    fn openai_func_init(&self) -> Option<u32> {
        match self.family {
            TokenizerFamily::O200k => Some(7),
            TokenizerFamily::Cl100k => Some(10),
            _ => None,
        }
    }

    fn templated_message(&self, t: &Template, message: &Message) -> u32 {
        let mut n = t.per_message;
        if t.role_as_text {
            n += self.text(message.role.as_str());
        }
        for part in &message.content {
            n = n.saturating_add(match part {
                ContentPart::Text(text) => self.text(text),
                ContentPart::Image(image) => t.image.tokens(image),
            });
        }
        if let Some(name) = &message.name {
            n = n.saturating_add(self.text(name) + t.per_name);
        }
        for call in &message.tool_calls {
            n = n
                .saturating_add(t.per_tool_call)
                .saturating_add(self.text(&call.name))
                .saturating_add(self.text(&call.arguments));
        }
        if message.role == Role::Tool {
            n = n.saturating_add(t.per_tool_result);
        }
        if t.counts_reasoning {
            for block in &message.reasoning {
                n = n.saturating_add(match block {
                    ReasoningBlock::Thought { text, .. } => self.text(text),
                    // Encrypted: its size in tokens is unknown; a quarter
                    // of its base64 length stands in for it.
                    ReasoningBlock::Redacted { data } => tokenizers::saturate(data.len() / 4),
                });
            }
        }
        n
    }

    fn templated_tools(&self, t: &Template, tools: &[ToolDefinition]) -> u32 {
        if tools.is_empty() {
            return 0;
        }
        let mut n = t.tools_fixed.saturating_add(self.text(t.tools_preamble));
        let mut json = Vec::with_capacity(256);
        for tool in tools {
            json.clear();
            tool_json(&mut json, tool);
            let json = std::str::from_utf8(&json).unwrap_or_default();
            n = n.saturating_add(t.per_tool).saturating_add(self.text(json));
        }
        n
    }
}

/// `{"name":…,"description":…,"parameters":…}`: the schema as providers
/// put it in front of the model.
pub(crate) fn tool_json(out: &mut Vec<u8>, tool: &ToolDefinition) {
    use crate::canonical::json::write_str;
    out.extend_from_slice(b"{\"name\":");
    write_str(out, &tool.name);
    if let Some(description) = &tool.description {
        out.extend_from_slice(b",\"description\":");
        write_str(out, description);
    }
    if let Some(schema) = &tool.parameters {
        out.extend_from_slice(b",\"parameters\":");
        out.extend_from_slice(schema.as_str().as_bytes());
    }
    out.push(b'}');
}

impl CountTokens for Counter {
    fn message(&self, message: &Message) -> u32 {
        match self.openai_func_init() {
            Some(_) => openai::message(self.tokenizer(), message),
            None => self.templated_message(template::template(self.family), message),
        }
    }

    fn tools(&self, tools: &[ToolDefinition]) -> u32 {
        match self.openai_func_init() {
            Some(func_init) => openai::tools(self.tokenizer(), func_init, tools),
            None => self.templated_tools(template::template(self.family), tools),
        }
    }

    fn request_overhead(&self) -> u32 {
        match self.openai_func_init() {
            Some(_) => openai::REPLY_PRIMING,
            None => template::template(self.family).reply,
        }
    }
}

/// A request's prompt tokens, whole and by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCount {
    /// Everything: messages, tools and the request overhead.
    pub total: u32,
    /// Each message's tokens, in request order.
    pub per_message: Vec<u32>,
    /// The tool schemas' tokens.
    pub tools: u32,
}

/// Counts `request` with `counter`.
pub fn count_request(counter: &impl CountTokens, request: &ChatRequest) -> RequestCount {
    let per_message: Vec<u32> = request
        .messages
        .iter()
        .map(|m| counter.message(m))
        .collect();
    let tools = counter.tools(&request.tools);
    let total = per_message
        .iter()
        .fold(tools, |sum, n| sum.saturating_add(*n))
        .saturating_add(counter.request_overhead());
    RequestCount {
        total,
        per_message,
        tools,
    }
}
