//! Anthropic Messages API adapter: request building, response and error
//! mapping (`convert`), and the SSE stream translator (`stream`).

pub mod convert;
pub mod passthrough;
pub mod stream;
pub mod wire;

#[cfg(test)]
mod tests;

/// Name used in logs, metrics and the `x-tollgate-provider` header.
pub const PROVIDER_TYPE: &str = "anthropic";

/// The tool we force when a model lacks native structured output: its input
/// *is* the JSON answer, and it is turned back into message content on the
/// way out (responses and streams). Clients may not define a tool with this
/// name.
pub const JSON_ANSWER_TOOL: &str = "json_answer";

/// Per-model knobs the caller takes from the model table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnthropicOptions {
    /// `max_tokens` when the client set none (Anthropic requires one).
    pub default_max_tokens: u32,
    /// The model supports `output_config.format` (structured outputs);
    /// otherwise `json_schema` is served through [`JSON_ANSWER_TOOL`].
    pub native_structured_output: bool,
}
