//! Chat completions served by a provider with its own API (Anthropic,
//! Gemini): parse into the canonical model, translate the request, then
//! translate the answer back — whole, or event by event as the upstream
//! streams it. A failure after the first byte ends the stream with an
//! explicit error event, never a clean-looking finish.

use super::attempt::{Prepared, RequestCtx};
use super::engine::Delivered;
use crate::canonical::openai::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_response,
    write_openai_stream_error,
};
use crate::canonical::{ChatChunk, ChatRequest, ChatResponse, OpenAiError};
use crate::config::ProviderKind;
use crate::providers::anthropic::stream::AnthropicStreamTranslator;
use crate::providers::anthropic::{self, AnthropicOptions};
use crate::providers::gemini;
use crate::providers::gemini::convert::GeminiOptions;
use crate::providers::gemini::stream::GeminiStreamTranslator;
use crate::resilience::unix_secs as now_secs;
use crate::router::Deployment;
use crate::server::Responder;
use crate::sse::SseParser;

/// Upstream error bodies and whole answers larger than this are refused.
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// One stream translator per provider API, driven the same way.
enum Translator {
    Anthropic(AnthropicStreamTranslator),
    Gemini(GeminiStreamTranslator),
}

impl Translator {
    fn on_event(
        &mut self,
        ev: &crate::sse::SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), OpenAiError> {
        match self {
            Translator::Anthropic(t) => t.on_event(ev, out).map_err(|e| e.to_openai()),
            Translator::Gemini(t) => t.on_event(ev, out).map_err(|e| e.to_openai()),
        }
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, OpenAiError> {
        match self {
            Translator::Anthropic(t) => t.finish().map_err(|e| e.to_openai()),
            Translator::Gemini(t) => t.finish().map_err(|e| e.to_openai()),
        }
    }
}

/// Delivers a committed answer from a translating provider.
pub async fn deliver(
    prepared: Prepared,
    ctx: &RequestCtx<'_>,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Delivered {
    let completion_id = format!("chatcmpl-{}", ctx.request_id);
    let kind = prepared.deployment.provider.kind;
    if ctx.stream {
        let translator = match kind {
            ProviderKind::Anthropic => {
                Translator::Anthropic(AnthropicStreamTranslator::new(ctx.include_usage))
            }
            _ => Translator::Gemini(GeminiStreamTranslator::new(ctx.include_usage)),
        };
        let context = ChunkContext::new(
            &completion_id,
            now_secs(),
            &prepared.deployment.upstream_model,
        );
        // Boxed: the stream's state is several times the whole answer's,
        // and every request would otherwise move that much on each call.
        Box::pin(stream(prepared, translator, &context, headers, resp)).await
    } else {
        whole(prepared, completion_id, headers, resp).await
    }
}

/// Appends the provider's request body for a canonical request to `out`.
pub fn build_body(
    kind: ProviderKind,
    req: &ChatRequest,
    d: &Deployment,
    out: &mut Vec<u8>,
) -> Result<(), OpenAiError> {
    match kind {
        ProviderKind::Anthropic => {
            let opts = AnthropicOptions {
                default_max_tokens: d.default_max_tokens,
                native_structured_output: d.native_structured_output,
            };
            anthropic::convert::write_request(req, &d.upstream_model, &opts, out)
                .map_err(|e| e.to_openai())
        }
        _ => {
            let opts = GeminiOptions::for_model(&d.upstream_model);
            gemini::convert::write_request(req, &opts, out).map_err(|e| e.to_openai())
        }
    }
}

async fn whole(
    prepared: Prepared,
    completion_id: String,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Delivered {
    let Prepared {
        mut upstream,
        first,
        deployment,
        ..
    } = prepared;
    let provider = &deployment.provider.name;
    let mut body = first;
    if !upstream.body.is_done() {
        // Boxed: reading on is rare here (the answer usually arrives with
        // its head) and its state, inline, would make every answer's
        // future — and each move of it — kilobytes larger.
        match Box::pin(upstream.body.collect(MAX_ANSWER_BYTES)).await {
            Ok(rest) => body.extend_from_slice(&rest),
            Err(e) => {
                let _ = resp.send_error(&e.to_api(provider), headers).await;
                return Delivered::UpstreamFailed;
            }
        }
    }
    let parsed = match deployment.provider.kind {
        ProviderKind::Anthropic => {
            anthropic::convert::parse_response(&body).map_err(|e| e.to_string())
        }
        _ => gemini::convert::parse_response(&body).map_err(|e| e.to_string()),
    };
    let mut answer: ChatResponse = match parsed {
        Ok(a) => a,
        Err(why) => {
            let err = OpenAiError::new(
                502,
                "upstream_error",
                format!("Provider `{provider}` sent an unreadable answer: {why}."),
            )
            .with_code("upstream_protocol_error");
            let _ = resp.send_error(&err, headers).await;
            return Delivered::UpstreamFailed;
        }
    };
    answer.id = completion_id;
    if answer.created == 0 {
        answer.created = now_secs();
    }
    if answer.model.is_empty() {
        answer.model = deployment.upstream_model.clone();
    }
    let _ = resp
        .send_json_written(200, headers, |out| write_openai_response(&answer, out))
        .await;
    Delivered::Complete
}

/// Translates the upstream's SSE stream event by event as it arrives.
async fn stream(
    prepared: Prepared,
    mut translator: Translator,
    ctx: &ChunkContext,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Delivered {
    let Prepared {
        mut upstream,
        first,
        deployment,
        ..
    } = prepared;
    let provider = &deployment.provider.name;
    let mut all: Vec<(&str, &[u8])> = vec![
        ("content-type", b"text/event-stream"),
        ("cache-control", b"no-cache"),
    ];
    all.extend_from_slice(headers);
    if resp.start_stream(200, &all, false).await.is_err() {
        return Delivered::ClientGone;
    }
    let mut parser = SseParser::new();
    parser.feed(&first);
    let mut chunks = Vec::with_capacity(4);
    let mut out = Vec::with_capacity(1024);
    let mut fed_first = false;
    let failure = loop {
        if fed_first {
            match upstream.body.next().await {
                Ok(Some(piece)) => parser.feed(piece),
                Ok(None) => break None,
                Err(e) => {
                    let api = e.to_api(provider);
                    break Some(
                        OpenAiError::new(api.status, &api.r#type, api.message)
                            .with_code("stream_interrupted"),
                    );
                }
            }
        }
        fed_first = true;
        let mut failed = None;
        while let Some(event) = parser.next_event() {
            if let Err(e) = translator.on_event(&event, &mut chunks) {
                failed = Some(e);
                break;
            }
        }
        for chunk in chunks.drain(..) {
            write_openai_chunk(&chunk, ctx, &mut out);
        }
        if !out.is_empty() {
            if resp.send_chunk(&out).await.is_err() {
                // The client left: dropping the upstream body closes that connection.
                return Delivered::ClientGone;
            }
            out.clear();
        }
        if failed.is_some() {
            break failed;
        }
    };
    let failure = failure.or_else(|| match translator.finish() {
        Ok(last) => {
            for chunk in &last {
                write_openai_chunk(chunk, ctx, &mut out);
            }
            write_openai_done(&mut out);
            None
        }
        Err(e) => Some(e),
    });
    let delivered = match failure {
        Some(mut err) => {
            // The upstream's own words may quote the key it was sent.
            crate::api::scrub::scrub_message(&mut err.message, &deployment.provider.api_keys);
            write_openai_stream_error(&err, &mut out);
            Delivered::UpstreamFailed
        }
        None => Delivered::Complete,
    };
    if resp.send_chunk(&out).await.is_ok() {
        let _ = resp.end_stream().await;
    }
    delivered
}
