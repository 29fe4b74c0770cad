//! The inbound APIs a client may speak — OpenAI Chat Completions and
//! Anthropic Messages — as one value the pipeline carries: how its body
//! parses into the canonical request, which providers speak it natively (the
//! byte-splicing fast path), and how its errors look on the wire.

use crate::api::ApiError;
use crate::canonical::ChatRequest;
use crate::config::ProviderKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Inbound {
    OpenAi,
    Anthropic,
}

impl Inbound {
    pub fn name(self) -> &'static str {
        match self {
            Inbound::OpenAi => "openai",
            Inbound::Anthropic => "anthropic",
        }
    }

    /// Whether a provider of `kind` takes this dialect's body as it is:
    /// then only `model` is spliced and the answer is relayed byte for byte.
    pub fn is_native(self, kind: ProviderKind) -> bool {
        match self {
            Inbound::OpenAi => matches!(
                kind,
                ProviderKind::Openai | ProviderKind::OpenaiCompatible | ProviderKind::Azure
            ),
            Inbound::Anthropic => kind == ProviderKind::Anthropic,
        }
    }

    /// The full, validated parse into the canonical model.
    pub fn parse(self, body: &[u8]) -> Result<ChatRequest, ApiError> {
        match self {
            Inbound::OpenAi => {
                crate::api::openai::parse_openai_request(body).map_err(|e| e.to_openai())
            }
            Inbound::Anthropic => crate::api::anthropic::parse_messages_request(body),
        }
    }

    /// The same-dialect reading: validated as far as every path validates,
    /// with the fields routing needs, and `model`'s span (the first
    /// top-level one, found by the caller) kept only if it is the only one.
    pub fn envelope(
        self,
        body: &[u8],
        first_model: Option<std::ops::Range<usize>>,
    ) -> Result<crate::api::chat::ChatEnvelope, ApiError> {
        match self {
            Inbound::OpenAi => crate::api::chat::inspect_with_span(body, first_model),
            Inbound::Anthropic => {
                let route = crate::api::anthropic::read_messages_route(body)?;
                Ok(crate::api::chat::ChatEnvelope {
                    model: route.model,
                    stream: route.stream,
                    include_usage: false,
                    model_span: first_model.filter(|_| route.single_model),
                    tags: route.tags,
                    max_tokens: route.max_tokens,
                    end_user: route.end_user,
                })
            }
        }
    }

    /// The id of a translated answer: `chatcmpl-…` or `msg_…`.
    pub fn answer_id(self, request_id: &str) -> String {
        match self {
            Inbound::OpenAi => format!("chatcmpl-{request_id}"),
            Inbound::Anthropic => format!("msg_{request_id}"),
        }
    }

    /// The error body this dialect's clients expect.
    pub fn error_body(self, err: &ApiError, request_id: &str) -> Vec<u8> {
        match self {
            Inbound::OpenAi => err.to_json(),
            // A refusal at the request head has no id yet: no empty `request_id`.
            Inbound::Anthropic => {
                crate::api::anthropic::error_body(err, Some(request_id).filter(|id| !id.is_empty()))
            }
        }
    }

    /// Whether an upstream error body is already in this dialect's shape
    /// (then it is relayed as it came, status and rate-limit headers kept).
    pub fn owns_error_body(self, body: &[u8]) -> bool {
        match self {
            Inbound::OpenAi => crate::api::chat::is_openai_error_body(body),
            Inbound::Anthropic => crate::api::anthropic::is_anthropic_error_body(body),
        }
    }

    /// A stream event reporting a failure after the commit point.
    pub fn stream_error_event(self, err: &ApiError, out: &mut Vec<u8>) {
        match self {
            Inbound::OpenAi => crate::api::openai::write_openai_stream_error(err, out),
            Inbound::Anthropic => crate::api::anthropic::write_error_event(err, out),
        }
    }
}
