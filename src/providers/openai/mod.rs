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
