//! Context windows: the model catalog (what each model holds and costs),
//! token counting per tokenizer family, and fitting a request into the
//! window of each deployment it is sent to.
//!
//! The pieces meet at two small seams defined here: [`TokenizerFamily`]
//! (the catalog names it, the counter implements it) and [`CountTokens`]
//! (the counter implements it, the fitting strategies consume it).

pub mod catalog;
pub mod count;
pub mod fit;

use crate::canonical::{Message, ToolDefinition};

/// How a model family turns text into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenizerFamily {
    /// OpenAI `o200k_base` (GPT-4o, 4.1, 5, o-series).
    O200k,
    /// OpenAI `cl100k_base` (GPT-4, GPT-3.5).
    Cl100k,
    /// Anthropic Claude: no public tokenizer; a documented upper-bound estimate.
    Claude,
    /// Google Gemini: no public tokenizer; a documented upper-bound estimate.
    Gemini,
    /// Mistral's tekken tokenizer (Nemo, Large 2+, Small 3+, Codestral).
    MistralTekken,
    /// Alibaba Qwen (`qwen.tiktoken`).
    Qwen,
    /// Meta Llama 3 family.
    Llama3,
    /// DeepSeek V3 / R1.
    DeepSeek,
    /// xAI Grok.
    Grok,
    /// No tokenizer known: the generic byte-based upper bound.
    Unknown,
}

/// Token counts of the pieces of a request, as the target provider counts
/// them (per-message and per-tool overheads included).
pub trait CountTokens {
    /// One message: its content, tool calls, reasoning blocks, images, and the
    /// provider's per-message overhead.
    fn message(&self, message: &Message) -> u32;
    /// The tool schemas the request declares (zero for none).
    fn tools(&self, tools: &[ToolDefinition]) -> u32;
    /// What a request costs beyond its messages and tools (reply priming).
    fn request_overhead(&self) -> u32;
}
