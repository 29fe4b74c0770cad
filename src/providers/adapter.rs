//! The one interface every provider kind implements, and the registry that
//! maps a configured kind to it: defaults for path and auth, the request body
//! written from the canonical model, the whole-answer parse, the stream
//! translator and the error mapping. Nothing outside this registry matches on
//! the provider kind to decide how to talk to a provider.

use crate::api::ApiError;
use crate::canonical::{ChatChunk, ChatRequest, ChatResponse, Usage};
use crate::config::ProviderKind;
use crate::router::Deployment;
use crate::sse::SseEvent;

/// Upstream SSE events in, canonical chunks out, with state across events.
pub trait StreamTranslator {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), ApiError>;
    /// The stream ended: what is still owed, or the error for a stream that
    /// stopped short of its final event.
    fn finish(&mut self) -> Result<Vec<ChatChunk>, ApiError>;
    /// Usage seen so far (the final usage once the stream has ended).
    fn usage(&self) -> Usage;
}

/// What a provider kind does, as plain functions: a table, not a `match`.
pub struct Adapter {
    pub kind: ProviderKind,
    /// Header carrying the key, the scheme written before it, and the chat
    /// path under the base URL (`{model}`, `{method}` filled per request).
    pub auth_header: &'static str,
    pub auth_scheme: &'static str,
    pub chat_path: &'static str,
    /// Headers every request carries unless the config sets them.
    pub default_headers: &'static [(&'static str, &'static str)],
    /// Client headers passed to this provider as they are (e.g. Anthropic betas).
    pub client_headers: &'static [&'static str],
    /// Its count-tokens path under the base URL (`{model}` filled), when
    /// the provider has one.
    pub count_tokens_path: Option<&'static str>,
    /// How that path is asked: `None` takes an Anthropic count body as the
    /// client sent it (model spliced); `Some` writes one from the canonical
    /// request, so any dialect can be counted.
    pub count_tokens: Option<CountTokens>,
    /// Appends the provider's request body for a canonical request.
    pub write_body: fn(&ChatRequest, &Deployment, &mut Vec<u8>) -> Result<(), ApiError>,
    pub parse_answer: fn(&[u8]) -> Result<ChatResponse, String>,
    pub translator: fn(include_usage: bool) -> Box<dyn StreamTranslator>,
    /// The client-facing error for an upstream error answer (already scrubbed).
    pub map_error: fn(status: u16, body: &[u8], provider: &str) -> ApiError,
}

/// A provider count endpoint fed from the canonical request.
#[derive(Clone, Copy)]
pub struct CountTokens {
    /// Appends the count request body for a canonical request.
    pub write_body: fn(&ChatRequest, &Deployment, &mut Vec<u8>) -> Result<(), ApiError>,
    /// The top-level member of the provider's answer holding the count.
    pub total_field: &'static [u8],
}

pub fn adapter(kind: ProviderKind) -> &'static Adapter {
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => &super::openai::ADAPTER,
        ProviderKind::Azure => &super::openai::AZURE_ADAPTER,
        ProviderKind::Anthropic => &super::anthropic::ADAPTER,
        ProviderKind::Gemini => &super::gemini::ADAPTER,
        ProviderKind::Mock => &super::mock::ADAPTER,
    }
}

/// Implements [`StreamTranslator`] for a translator type whose own methods
/// return its own error type.
#[macro_export]
macro_rules! stream_translator {
    ($ty:ty) => {
        impl $crate::providers::adapter::StreamTranslator for $ty {
            fn on_event(
                &mut self,
                ev: &$crate::sse::SseEvent,
                out: &mut Vec<$crate::canonical::ChatChunk>,
            ) -> Result<(), $crate::api::ApiError> {
                <$ty>::on_event(self, ev, out).map_err(|e| e.to_openai())
            }
            fn finish(
                &mut self,
            ) -> Result<Vec<$crate::canonical::ChatChunk>, $crate::api::ApiError> {
                <$ty>::finish(self).map_err(|e| e.to_openai())
            }
            fn usage(&self) -> $crate::canonical::Usage {
                <$ty>::usage(self)
            }
        }
    };
}
