//! Google Gemini (`generateContent` / `streamGenerateContent?alt=sse`) adapter:
//! pure translation between the canonical model and Gemini's wire format.
//! Tool-call ids carry Gemini's thought signatures across turns (see `ids`).

pub mod args;
pub mod convert;
pub mod ids;
pub mod read;
mod request;
mod response;
pub mod schema;
pub mod stream;
pub mod wire;

#[cfg(test)]
mod tests;

pub use convert::{GeminiOptions, SchemaMode};

/// Name used in logs, metrics and the `x-tollgate-provider` header.
pub const PROVIDER_TYPE: &str = "gemini";

crate::stream_translator!(stream::GeminiStreamTranslator);

pub static ADAPTER: super::adapter::Adapter = super::adapter::Adapter {
    kind: crate::config::ProviderKind::Gemini,
    auth_header: "x-goog-api-key",
    auth_scheme: "",
    chat_path: "/models/{model}:{method}",
    default_headers: &[],
    client_headers: &[],
    count_tokens_path: Some("/models/{model}:countTokens"),
    count_tokens: Some(super::adapter::CountTokens {
        write_body: |req, d, out| {
            let opts = GeminiOptions::for_model(&d.upstream_model);
            convert::write_count_request(req, &opts, &d.upstream_model, out)
                .map_err(|e| e.to_openai())
        },
        total_field: b"totalTokens",
    }),
    write_body: |req, d, out| {
        let opts = GeminiOptions::for_model(&d.upstream_model);
        convert::write_request(req, &opts, out).map_err(|e| e.to_openai())
    },
    parse_answer: |body| convert::parse_response(body).map_err(|e| e.to_string()),
    translator: |include_usage| Box::new(stream::GeminiStreamTranslator::new(include_usage)),
    map_error: |status, body, _| convert::map_error(status, body),
};
