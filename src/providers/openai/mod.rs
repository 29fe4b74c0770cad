//! OpenAI, Azure OpenAI and the OpenAI-compatible family (DeepSeek, Mistral,
//! Qwen, Groq, Together, Fireworks, xAI, OpenRouter, Ollama, vLLM…): the body
//! passes through with only `model` and the provider's configured quirks
//! rewritten; the request head is built fresh (auth, host, framing), and a
//! cheap reader (`passthrough`) watches the relayed stream for usage and its
//! end. Clients of another dialect go through the translating side:
//! `request`, `response`, `stream`, `error`. A new compatible provider is a
//! config entry, not code.

mod error;
pub mod frames;
pub mod passthrough;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod adapter_tests;

pub use error::map_error;
pub use passthrough::OpenAiStreamReader;
pub use request::write_request;
pub use response::parse_response;
pub use stream::OpenAiStreamTranslator;

pub const PROVIDER_TYPE: &str = "openai";

/// Whether a client header is on the provider's forward list. The gateway's
/// own credentials and framing never are, whatever the list says.
pub(super) fn forwarded(list: &[String], name: &str) -> bool {
    if crate::upstream::is_reserved_header(name)
        || name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("api-key")
        || name.eq_ignore_ascii_case("x-api-key")
        || name.eq_ignore_ascii_case("x-goog-api-key")
        || name.eq_ignore_ascii_case("x-request-id")
    {
        return false;
    }
    list.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => {
            name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        }
        None => name.eq_ignore_ascii_case(entry),
    })
}

#[cfg(test)]
mod tests {
    use super::forwarded;

    #[test]
    fn forward_list_never_passes_credentials() {
        let list = vec![
            "x-mock-*".to_string(),
            "authorization".to_string(),
            "openai-beta".to_string(),
        ];
        assert!(forwarded(&list, "X-Mock-Fault"));
        assert!(forwarded(&list, "OpenAI-Beta"));
        assert!(!forwarded(&list, "Authorization"));
        assert!(!forwarded(&list, "x-other"));
        assert!(!forwarded(&list, "content-length"));
    }
}

crate::stream_translator!(stream::OpenAiStreamTranslator);

/// The OpenAI-compatible family: a same-dialect OpenAI client's body is
/// spliced, not rewritten; these functions serve every other client.
pub static ADAPTER: super::adapter::Adapter = super::adapter::Adapter {
    kind: crate::config::ProviderKind::OpenaiCompatible,
    auth_header: "authorization",
    auth_scheme: "Bearer ",
    chat_path: "/chat/completions",
    default_headers: &[],
    client_headers: &[],
    count_tokens_path: None,
    count_tokens: None,
    write_body: |req, d, out| {
        write_request(req, &d.upstream_model, out);
        Ok(())
    },
    parse_answer: |body| parse_response(body).map_err(|e| e.message),
    translator: |include_usage| Box::new(OpenAiStreamTranslator::new(include_usage)),
    map_error: |status, body, _| map_error(status, body),
};

/// Azure OpenAI: the same API under a deployment path and an `api-key` header.
pub static AZURE_ADAPTER: super::adapter::Adapter = super::adapter::Adapter {
    kind: crate::config::ProviderKind::Azure,
    auth_header: "api-key",
    auth_scheme: "",
    chat_path: "/openai/deployments/{model}/chat/completions",
    ..ADAPTER
};
