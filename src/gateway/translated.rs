//! Chat completions served by a provider with its own API (Anthropic,
//! Gemini): parse into the canonical model, translate the request, then
//! translate the answer back — whole, or event by event as the upstream
//! streams it. A failure after the first byte ends the stream with an
//! explicit error event, never a clean-looking finish.

use super::chat::call_upstream;
use crate::canonical::openai::{
    ChunkContext, parse_openai_request, write_openai_chunk, write_openai_done,
    write_openai_response, write_openai_stream_error,
};
use crate::canonical::{ChatChunk, ChatRequest, ChatResponse, OpenAiError};
use crate::config::ProviderKind;
use crate::mock_upstream::echo::now_secs;
use crate::providers::anthropic::stream::AnthropicStreamTranslator;
use crate::providers::anthropic::{self, AnthropicOptions};
use crate::providers::gemini::convert::GeminiOptions;
use crate::providers::gemini::stream::GeminiStreamTranslator;
use crate::providers::{gemini, render_request};
use crate::router::ModelRoute;
use crate::server::{Request, Responder};
use crate::sse::SseParser;
use crate::upstream::UpstreamResponse;

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

pub async fn handle(
    req: &Request,
    route: &ModelRoute,
    request_id: &str,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) {
    let provider = &route.provider;
    let canonical = match parse_openai_request(&req.body) {
        Ok(c) => c,
        Err(e) => {
            let _ = resp.send_error(&e.to_openai(), headers).await;
            return;
        }
    };
    let body = match build_body(provider.kind, &canonical, route) {
        Ok(b) => b,
        Err(e) => {
            let _ = resp.send_error(&e, headers).await;
            return;
        }
    };
    let target = provider.chat_target(&route.upstream_model, canonical.stream);
    let bytes = render_request(
        provider,
        &target,
        &body,
        canonical.stream,
        request_id,
        req.headers(),
    );
    let upstream = match call_upstream(provider, bytes, resp).await {
        Some(Ok(u)) => u,
        Some(Err(e)) => {
            let _ = resp.send_error(&e.to_api(&provider.name), headers).await;
            return;
        }
        None => return resp.abort(),
    };
    let completion_id = format!("chatcmpl-{request_id}");
    if upstream.status >= 400 {
        relay_error(provider.kind, upstream, &provider.name, headers, resp).await;
    } else if canonical.stream {
        let translator = match provider.kind {
            ProviderKind::Anthropic => {
                Translator::Anthropic(AnthropicStreamTranslator::new(canonical.include_usage))
            }
            _ => Translator::Gemini(GeminiStreamTranslator::new(canonical.include_usage)),
        };
        let ctx = ChunkContext::new(&completion_id, now_secs(), &route.upstream_model);
        stream(upstream, translator, &ctx, &provider.name, headers, resp).await;
    } else {
        whole(
            provider.kind,
            upstream,
            &completion_id,
            route,
            headers,
            resp,
        )
        .await;
    }
}

fn build_body(
    kind: ProviderKind,
    req: &ChatRequest,
    route: &ModelRoute,
) -> Result<Vec<u8>, OpenAiError> {
    match kind {
        ProviderKind::Anthropic => {
            let opts = AnthropicOptions {
                default_max_tokens: route.default_max_tokens,
                native_structured_output: route.native_structured_output,
            };
            anthropic::convert::build_request(req, &route.upstream_model, &opts)
                .map_err(|e| e.to_openai())
        }
        _ => {
            let opts = GeminiOptions::for_model(&route.upstream_model);
            gemini::convert::build_request(req, &opts).map_err(|e| e.to_openai())
        }
    }
}

/// An upstream error answer, mapped to the OpenAI shape with the same status class.
async fn relay_error(
    kind: ProviderKind,
    mut upstream: UpstreamResponse,
    provider: &str,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) {
    let status = upstream.status;
    let retry_after = upstream.header("retry-after").map(<[u8]>::to_vec);
    let body = match upstream.body.collect(MAX_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let _ = resp.send_error(&e.to_api(provider), headers).await;
            return;
        }
    };
    let err = match kind {
        ProviderKind::Anthropic => anthropic::convert::map_error(status, &body),
        _ => gemini::convert::map_error(status, &body),
    };
    let mut all: Vec<(&str, &[u8])> = headers.to_vec();
    if let Some(r) = &retry_after {
        all.push(("retry-after", r));
    }
    let _ = resp.send_error(&err, &all).await;
}

async fn whole(
    kind: ProviderKind,
    mut upstream: UpstreamResponse,
    completion_id: &str,
    route: &ModelRoute,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) {
    let provider = &route.provider.name;
    let body = match upstream.body.collect(MAX_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let _ = resp.send_error(&e.to_api(provider), headers).await;
            return;
        }
    };
    let parsed = match kind {
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
            {
                let _ = resp.send_error(&err, headers).await;
                return;
            };
        }
    };
    answer.id = completion_id.to_string();
    if answer.created == 0 {
        answer.created = now_secs();
    }
    if answer.model.is_empty() {
        answer.model = route.upstream_model.clone();
    }
    let mut out = Vec::with_capacity(body.len() + 256);
    write_openai_response(&answer, &mut out);
    let mut all: Vec<(&str, &[u8])> = vec![("content-type", b"application/json")];
    all.extend_from_slice(headers);
    let _ = resp.send(200, &all, &out).await;
}

/// Translates the upstream's SSE stream event by event as it arrives.
async fn stream(
    mut upstream: UpstreamResponse,
    mut translator: Translator,
    ctx: &ChunkContext,
    provider: &str,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) {
    let mut all: Vec<(&str, &[u8])> = vec![
        ("content-type", b"text/event-stream"),
        ("cache-control", b"no-cache"),
    ];
    all.extend_from_slice(headers);
    if resp.start_stream(200, &all, false).await.is_err() {
        return;
    }
    let mut parser = SseParser::new();
    let mut chunks = Vec::with_capacity(4);
    let mut out = Vec::with_capacity(1024);
    let failure = loop {
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
                return;
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
    if let Some(err) = failure {
        write_openai_stream_error(&err, &mut out);
    }
    if resp.send_chunk(&out).await.is_ok() {
        let _ = resp.end_stream().await;
    }
}
