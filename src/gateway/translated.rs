//! Answers from a provider that does not speak the client's dialect: the
//! provider's adapter reads the answer (whole, or event by event as it
//! streams) into the canonical model, and the client's dialect writes it
//! out. A failure after the first byte ends the stream with an explicit
//! error event, never a clean-looking finish.

use super::attempt::{Prepared, RequestCtx};
use super::dialect::Inbound;
use super::engine::Delivered;
use super::obligations::ToolCallHold;
use crate::api::ApiError;
use crate::api::anthropic::AnthropicStreamWriter;
use crate::api::openai::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_response,
    write_openai_stream_error,
};
use crate::canonical::{ChatChunk, ChatResponse, Usage};
use crate::providers::adapter::{StreamTranslator, adapter};
use crate::resilience::unix_secs as now_secs;
use crate::server::Responder;
use crate::sse::SseParser;

/// Upstream error bodies and whole answers larger than this are refused.
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// How a translated delivery ended, and the usage it carried.
pub struct Report {
    pub delivered: Delivered,
    pub usage: Option<Usage>,
    pub status: u16,
}

/// Delivers a committed answer through the provider's adapter.
pub async fn deliver(
    prepared: Prepared,
    ctx: &RequestCtx<'_>,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Report {
    let answer_id = ctx.inbound.answer_id(ctx.request_id);
    let provider = adapter(prepared.deployment.provider.kind);
    if ctx.stream {
        // The translator always counts usage: the delivery record needs it
        // whether or not the client asked to see it.
        let translator = (provider.translator)(true);
        let writer = StreamWriter::new(
            ctx.inbound,
            &answer_id,
            &prepared.deployment.upstream_model,
            ctx.include_usage,
        )
        .with_cost(
            ctx.include_cost
                .then(|| crate::governance::cost::Pricing(prepared.deployment.spec.clone())),
        );
        let hold = ctx.obligations.hold_tool_calls.then(ToolCallHold::default);
        // Boxed: the stream's state is several times the whole answer's,
        // and every request would otherwise move that much on each call.
        Box::pin(stream(prepared, translator, writer, hold, headers, resp)).await
    } else {
        whole(
            prepared,
            ctx.inbound,
            ctx.price_answers,
            answer_id,
            headers,
            resp,
        )
        .await
    }
}

/// A client's stream in its own dialect.
pub struct StreamWriter {
    dialect: DialectWriter,
    /// The client asked for the cost in the final usage (the model's prices).
    cost: Option<crate::governance::cost::Pricing>,
}

enum DialectWriter {
    OpenAi {
        context: ChunkContext,
        include_usage: bool,
    },
    Anthropic(AnthropicStreamWriter),
}

impl StreamWriter {
    pub fn new(inbound: Inbound, id: &str, model: &str, include_usage: bool) -> Self {
        let dialect = match inbound {
            Inbound::OpenAi => DialectWriter::OpenAi {
                context: ChunkContext::new(id, now_secs(), model),
                include_usage,
            },
            Inbound::Anthropic => DialectWriter::Anthropic(AnthropicStreamWriter::new(id, model)),
        };
        StreamWriter {
            dialect,
            cost: None,
        }
    }

    /// Puts the cost in the final usage chunk or event.
    pub fn with_cost(mut self, cost: Option<crate::governance::cost::Pricing>) -> Self {
        self.cost = cost;
        self
    }

    pub fn chunk(&mut self, chunk: &ChatChunk, usage: Usage, out: &mut Vec<u8>) {
        match &mut self.dialect {
            DialectWriter::OpenAi {
                context,
                include_usage,
            } => {
                // The usage-only chunk goes out only to a client that asked.
                match (chunk, &self.cost) {
                    (ChatChunk::Usage(_), _) if !*include_usage => {}
                    (ChatChunk::Usage(u), Some(p)) => {
                        let mut event = Vec::new();
                        write_openai_chunk(chunk, context, &mut event);
                        crate::governance::cost::inject(&event, p.price(u), out);
                    }
                    _ => write_openai_chunk(chunk, context, out),
                }
            }
            DialectWriter::Anthropic(w) => {
                w.set_usage(usage);
                w.write_chunk(chunk, out);
            }
        }
    }

    pub fn finish(&mut self, usage: Usage, out: &mut Vec<u8>) {
        match &mut self.dialect {
            DialectWriter::OpenAi { .. } => write_openai_done(out),
            DialectWriter::Anthropic(w) => {
                w.set_usage(usage);
                match &self.cost {
                    // The final `message_delta` carries the usage: and the cost.
                    Some(p) => {
                        let mut events = Vec::new();
                        w.finish(&mut events);
                        crate::governance::cost::inject(&events, p.price(&usage), out);
                    }
                    None => w.finish(out),
                }
            }
        }
    }

    pub fn error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        match &mut self.dialect {
            DialectWriter::OpenAi { .. } => write_openai_stream_error(err, out),
            DialectWriter::Anthropic(w) => w.write_error(err, out),
        }
    }
}

/// Writes a whole canonical answer in the client's dialect.
pub fn write_answer(inbound: Inbound, answer: &ChatResponse, out: &mut Vec<u8>) {
    match inbound {
        Inbound::OpenAi => write_openai_response(answer, out),
        Inbound::Anthropic => crate::api::anthropic::write_message_response(answer, out),
    }
}

async fn whole(
    prepared: Prepared,
    inbound: Inbound,
    price_answers: bool,
    answer_id: String,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Report {
    let Prepared {
        mut upstream,
        first,
        deployment,
        ..
    } = prepared;
    let provider = &deployment.provider.name;
    let mut body = first;
    let failed = |err: ApiError| Report {
        delivered: Delivered::UpstreamFailed,
        usage: None,
        status: err.status,
    };
    if !upstream.body.is_done() {
        // Boxed: reading on is rare here (the answer usually arrives with
        // its head) and its state, inline, would make every answer's
        // future — and each move of it — kilobytes larger.
        match Box::pin(upstream.body.collect(MAX_ANSWER_BYTES)).await {
            Ok(rest) => body.extend_from_slice(&rest),
            Err(e) => {
                let err = e.to_api(provider);
                let _ = super::send_error(resp, inbound, &err, headers).await;
                return failed(err);
            }
        }
    }
    let mut answer = match (adapter(deployment.provider.kind).parse_answer)(&body) {
        Ok(a) => a,
        Err(why) => {
            let err = ApiError::upstream(
                502,
                "upstream_protocol_error",
                format!("Provider `{provider}` sent an unreadable answer: {why}."),
            );
            let _ = super::send_error(resp, inbound, &err, headers).await;
            return failed(err);
        }
    };
    answer.id = answer_id;
    if answer.created == 0 {
        answer.created = now_secs();
    }
    if answer.model.is_empty() {
        answer.model = deployment.upstream_model.clone();
    }
    let usage = answer.usage;
    let cost = price_answers
        .then(|| crate::governance::cost::answer_header(deployment.spec.as_deref(), usage.as_ref()))
        .flatten();
    let mut all = headers.to_vec();
    if let Some((n, v)) = &cost {
        all.push((n, v));
    }
    let sent = resp
        .send_json_written(200, &all, |out| write_answer(inbound, &answer, out))
        .await;
    Report {
        delivered: if sent.is_ok() {
            Delivered::Complete
        } else {
            Delivered::ClientGone
        },
        usage,
        status: 200,
    }
}

/// Translates the upstream's SSE stream event by event as it arrives.
async fn stream(
    prepared: Prepared,
    mut translator: Box<dyn StreamTranslator>,
    mut writer: StreamWriter,
    mut hold: Option<ToolCallHold>,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Report {
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
    let gone = |translator: &dyn StreamTranslator| Report {
        delivered: Delivered::ClientGone,
        usage: Some(translator.usage()),
        status: 200,
    };
    if resp.start_stream(200, &all, false).await.is_err() {
        return gone(&*translator);
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
                        ApiError::new(api.status, &api.r#type, api.message)
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
        emit(&mut chunks, &mut hold, &mut writer, &*translator, &mut out);
        if !out.is_empty() {
            if resp.send_chunk(&out).await.is_err() {
                // The client left: dropping the upstream body closes that connection.
                return gone(&*translator);
            }
            out.clear();
        }
        if failed.is_some() {
            break failed;
        }
    };
    let failure = failure.or_else(|| match translator.finish() {
        Ok(mut last) => {
            emit(&mut last, &mut hold, &mut writer, &*translator, &mut out);
            if let Some(h) = hold.as_mut() {
                for chunk in h.release_all() {
                    writer.chunk(&chunk, translator.usage(), &mut out);
                }
            }
            writer.finish(translator.usage(), &mut out);
            None
        }
        Err(e) => Some(e),
    });
    let delivered = match failure {
        Some(mut err) => {
            // The upstream's own words may quote the key it was sent.
            crate::api::scrub::scrub_message(&mut err.message, &deployment.provider.api_keys);
            writer.error(&err, &mut out);
            Delivered::UpstreamFailed
        }
        None => Delivered::Complete,
    };
    if resp.send_chunk(&out).await.is_ok() {
        let _ = resp.end_stream().await;
    }
    Report {
        delivered,
        usage: Some(translator.usage()),
        status: 200,
    }
}

/// Writes translated chunks, through the tool-call hold when a policy
/// stage asked for one.
fn emit(
    chunks: &mut Vec<ChatChunk>,
    hold: &mut Option<ToolCallHold>,
    writer: &mut StreamWriter,
    translator: &dyn StreamTranslator,
    out: &mut Vec<u8>,
) {
    for chunk in chunks.drain(..) {
        match hold.as_mut() {
            Some(h) => {
                for released in h.push(chunk) {
                    writer.chunk(&released, translator.usage(), out);
                }
            }
            None => writer.chunk(&chunk, translator.usage(), out),
        }
    }
}
