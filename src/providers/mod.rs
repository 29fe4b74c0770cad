//! Provider adapters, one folder per upstream API: how a canonical call
//! becomes the provider's own request, and its answers and streams the
//! client's. `openai` covers the whole compatible family by config.

pub mod adapter;
pub mod anthropic;
pub mod gemini;
pub mod mock;
pub mod openai;
pub mod turns;

use crate::config::Secret;
use crate::router::Provider;

/// Renders a whole upstream POST: head (host, auth, static and forwarded
/// headers, framing) plus body. Every network provider goes through here.
pub fn render_request<'a>(
    provider: &Provider,
    key: Option<&Secret>,
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
    if let Some(key) = key {
        out.extend_from_slice(provider.auth_header.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(provider.auth_scheme.as_bytes());
        out.extend_from_slice(key.expose().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&provider.static_headers);
    let passed = adapter::adapter(provider.kind).client_headers;
    if !provider.forward_headers.is_empty() || !passed.is_empty() {
        for (name, value) in client_headers {
            if openai::forwarded(&provider.forward_headers, name)
                || passed.iter().any(|h| h.eq_ignore_ascii_case(name))
            {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"content-length: ");
    crate::canonical::json::write_u64(&mut out, body.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}
