//! OpenAI, Azure OpenAI and the OpenAI-compatible family (DeepSeek, Mistral,
//! Qwen, Groq, Together, Fireworks, xAI, OpenRouter, Ollama, vLLM…): the body
//! passes through with only `model` and the provider's configured quirks
//! rewritten; the request head is built fresh (auth, host, framing). A new
//! compatible provider is a config entry, not code.

use crate::router::Provider;

pub const PROVIDER_TYPE: &str = "openai";

/// Renders the whole upstream request: head plus body.
pub fn build_request<'a>(
    provider: &Provider,
    target: &str,
    body: &[u8],
    stream: bool,
    request_id: &str,
    client_headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<u8> {
    let base = provider
        .base
        .as_ref()
        .expect("network providers have a base URL");
    let mut out = Vec::with_capacity(body.len() + 512);
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(base.host_header.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    out.extend_from_slice(if stream {
        b"accept: text/event-stream\r\n" as &[u8]
    } else {
        b"accept: application/json\r\n"
    });
    out.extend_from_slice(b"user-agent: tollgate/");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b"\r\nx-request-id: ");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(key) = &provider.api_key {
        out.extend_from_slice(provider.auth_header.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(provider.auth_scheme.as_bytes());
        out.extend_from_slice(key.expose().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&provider.static_headers);
    if !provider.forward_headers.is_empty() {
        for (name, value) in client_headers {
            if forwarded(&provider.forward_headers, name) {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// Whether a client header is on the provider's forward list. The gateway's
/// own credentials and framing never are, whatever the list says.
fn forwarded(list: &[String], name: &str) -> bool {
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
