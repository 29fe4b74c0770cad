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

crate::stream_translator!(stream::AnthropicStreamTranslator);

pub static ADAPTER: super::adapter::Adapter = super::adapter::Adapter {
    kind: crate::config::ProviderKind::Anthropic,
    auth_header: "x-api-key",
    auth_scheme: "",
    chat_path: "/messages",
    default_headers: &[("anthropic-version", "2023-06-01")],
    client_headers: &["anthropic-beta"],
    count_tokens_path: Some("/messages/count_tokens"),
    count_tokens: None,
    write_body,
    parse_answer: |body| convert::parse_response(body).map_err(|e| e.to_string()),
    translator: |include_usage| Box::new(stream::AnthropicStreamTranslator::new(include_usage)),
    map_error: |status, body, _| convert::map_error(status, body),
};

fn write_body(
    req: &crate::canonical::ChatRequest,
    d: &crate::router::Deployment,
    out: &mut Vec<u8>,
) -> Result<(), crate::api::ApiError> {
    let opts = AnthropicOptions {
        default_max_tokens: d.default_max_tokens,
        native_structured_output: d.native_structured_output,
    };
    convert::write_request(req, &d.upstream_model, &opts, out).map_err(|e| e.to_openai())
}
