//! The provider-neutral chat model: one request, response, stream chunk and
//! usage shape that every inbound API parses into and every provider adapter
//! translates from.
//!
//! # How the model is laid out
//!
//! - [`ChatRequest`] is what a client asked for, already validated. It holds
//!   the conversation as a flat list of [`Message`]s in client order. System
//!   and developer prompts stay where the client put them (`Role::System` /
//!   `Role::Developer`); an adapter whose API has a top-level system field
//!   hoists them. Tool results are `Role::Tool` messages carrying
//!   `tool_call_id`; assistant turns carry `tool_calls` and, when the provider
//!   returned them, `reasoning` blocks whose `signature` is opaque and must be
//!   sent back unchanged on the next turn.
//! - Sampling knobs live in [`SamplingParams`]; everything is `Option` so an
//!   adapter only sends what the client set. `max_output_tokens` is already
//!   resolved from OpenAI's `max_completion_tokens` / `max_tokens`.
//! - [`ChatResponse`] is a finished, non-streamed answer; [`ChatChunk`] is one
//!   streamed piece. A chunk is either a delta for one choice (role, text,
//!   reasoning, one tool-call fragment, finish reason) or the usage-only chunk
//!   sent at the end when the client asked for `stream_options.include_usage`.
//! - Tool-call deltas use OpenAI's rule: each call has a stable `index`
//!   (0, 1, 2… in order of appearance), its `id` and `name` arrive in the
//!   first delta only, and `arguments` are string fragments to concatenate.
//! - [`Usage`] counts prompt tokens the OpenAI way: `prompt_tokens` includes
//!   cached input; `cached_prompt_tokens` and `cache_creation_tokens` say how
//!   much of it was read from / written to a provider cache.
//! - [`OpenAiError`] is the one error shape clients see; provider adapters map
//!   their upstream errors into it.
//!
//! The inbound dialects that parse into this model and write it back out
//! live in `api/` (`api::openai`, `api::anthropic`); this module holds only
//! the provider-neutral model and the JSON toolkit.

pub mod error;
pub mod json;
pub mod json_scan;
pub mod parts;
pub mod raw;
pub mod scratch;
pub mod tape;

pub use error::{CanonicalError, FirstFailure, OpenAiError, StreamError};
pub use parts::Parts;
pub use raw::RawJson;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    /// OpenAI's newer name for system instructions on reasoning models.
    Developer,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// A validated chat request, independent of the API it came in on.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// The model name the client asked for (an alias the router resolves).
    pub model: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    pub sampling: SamplingParams,
    pub reasoning: Option<ReasoningConfig>,
    pub stream: bool,
    /// `stream_options.include_usage`: end the stream with a usage-only chunk.
    pub include_usage: bool,
    /// End-user id for abuse tracking; providers call it differently.
    pub user: Option<String>,
    /// OpenAI `metadata`: string pairs the client attached, in order. The
    /// gateway reads routing `tags` from it; providers do not get it.
    pub metadata: Vec<(String, String)>,
}

/// One turn of the conversation. Fields that do not apply to a role are empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Parts,
    /// Optional participant name (OpenAI `name`); most providers drop it.
    pub name: Option<String>,
    /// Assistant only: the tools the model called in this turn, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Tool only: which call this message answers.
    pub tool_call_id: Option<String>,
    /// Tool only: the result reports a failed call (Anthropic's `is_error`).
    pub tool_error: bool,
    /// Assistant only: reasoning the provider returned, replayed verbatim.
    pub reasoning: Vec<ReasoningBlock>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<Parts>) -> Self {
        Message {
            role,
            content: content.into(),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_error: false,
            reasoning: Vec::new(),
        }
    }

    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Message::new(role, Parts::one(ContentPart::Text(text.into())))
    }

    /// All text parts joined, for APIs that only take a string.
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let ContentPart::Text(t) = part {
                out.push_str(t);
            }
        }
        out
    }
}

/// A piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    Text(String),
    /// Boxed: images are rare, and a text part stays the size of its string.
    Image(Box<Image>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub source: ImageSource,
    /// OpenAI's `detail` hint (`low`/`high`/`auto`); not every provider uses it.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A remote image the provider fetches itself.
    Url(String),
    /// Inline bytes, still base64-encoded, with their media type (`image/png`).
    Base64 { media_type: String, data: String },
}

/// A tool call the model made (or made in an earlier turn).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text, exactly as OpenAI carries them.
    pub arguments: String,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments; `None` means "no parameters".
    pub parameters: Option<RawJson>,
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Function(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema(JsonSchemaFormat),
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchemaFormat {
    pub name: String,
    pub description: Option<String>,
    pub schema: RawJson,
    pub strict: Option<bool>,
}

/// Sampling knobs; `None` means "provider default".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplingParams {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Sample only from the k likeliest tokens (Anthropic, Gemini).
    pub top_k: Option<u32>,
    /// Resolved from `max_completion_tokens`, else `max_tokens`.
    pub max_output_tokens: Option<u32>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    /// Number of choices; only 1 is portable.
    pub n: Option<u32>,
}

/// How hard the model should think before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl ReasoningEffort {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::None => "none",
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
            ReasoningEffort::XHigh => "xhigh",
        }
    }
}

/// Either an effort level (OpenAI style) or an explicit token budget
/// (Anthropic / Gemini style); an explicit budget wins when both are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReasoningConfig {
    pub effort: Option<ReasoningEffort>,
    pub budget_tokens: Option<u32>,
}

/// Reasoning the provider returned. The signature (or redacted payload) is
/// opaque: it exists so the next turn can hand it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReasoningBlock {
    Thought {
        text: String,
        signature: Option<String>,
    },
    /// Reasoning the provider encrypted; only `data` may be replayed.
    Redacted { data: String },
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }
}

/// Token accounting, OpenAI semantics: `prompt_tokens` includes cached input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Part of `prompt_tokens` served from the provider's prompt cache.
    pub cached_prompt_tokens: u64,
    /// Part of `prompt_tokens` written into the provider's prompt cache.
    pub cache_creation_tokens: u64,
    /// Part of `completion_tokens` spent on reasoning.
    pub reasoning_tokens: u64,
}

/// A finished, non-streamed answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    /// The model that actually answered.
    pub model: String,
    /// Unix seconds; 0 lets the writer's caller fill it in.
    pub created: u64,
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: Option<FinishReason>,
}

/// The assistant's answer in a response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssistantMessage {
    /// `None` when the model only called tools (OpenAI sends `null`).
    pub content: Option<String>,
    pub refusal: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub reasoning: Vec<ReasoningBlock>,
}

/// One streamed piece of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatChunk {
    /// A delta for one choice.
    Delta {
        choice: u32,
        delta: ChunkDelta,
        finish_reason: Option<FinishReason>,
    },
    /// The usage-only chunk (`"choices":[]`) that ends an include_usage stream.
    Usage(Usage),
}

impl ChatChunk {
    pub fn delta(delta: ChunkDelta) -> Self {
        ChatChunk::Delta {
            choice: 0,
            delta,
            finish_reason: None,
        }
    }

    pub fn finish(reason: FinishReason) -> Self {
        ChatChunk::Delta {
            choice: 0,
            delta: ChunkDelta::default(),
            finish_reason: Some(reason),
        }
    }
}

/// What changed in one choice since the previous chunk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkDelta {
    /// Set on the first chunk of a choice only.
    pub role: Option<Role>,
    pub content: Option<String>,
    pub refusal: Option<String>,
    /// A fragment of reasoning text.
    pub reasoning: Option<String>,
    /// The opaque signature that closes a reasoning block.
    pub reasoning_signature: Option<String>,
    /// A whole redacted reasoning block.
    pub redacted_reasoning: Option<String>,
    pub tool_call: Option<ToolCallDelta>,
}

/// A fragment of one tool call in a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCallDelta {
    /// Stable per call: 0, 1, 2… in order of appearance.
    pub index: u32,
    /// First fragment only.
    pub id: Option<String>,
    /// First fragment only.
    pub name: Option<String>,
    /// Text to append to the call's arguments (may be empty).
    pub arguments: String,
}
