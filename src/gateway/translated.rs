//! Answers from a provider that does not speak the client's dialect: the
//! provider's adapter reads the answer (whole, or event by event as it
//! streams) into the canonical model, and the client's dialect writes it
//! out. A failure after the first byte ends the stream with an explicit
//! error event, never a clean-looking finish.

use super::answer_guard::{self, CallStep, Opened, Poll, Step, StreamAnswerGuard};
use super::attempt::{Prepared, RequestCtx};
use super::dialect::Inbound;
use super::engine::Delivered;
use crate::api::ApiError;
use crate::api::anthropic::AnthropicStreamWriter;
use crate::api::openai::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_response,
    write_openai_stream_error,
};
use crate::canonical::{ChatChunk, ChatResponse, Usage};
use crate::config::ApprovalMode;
use crate::guard::approvals::Held;
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
    /// Stream events that reached the client: what the gateway counts the
    /// output by when the provider reports no usage.
    pub events: u64,
    /// What the answer-side guards did (`tool:refused:…`, `approval:…`).
    pub guard: Vec<String>,
    /// `usage` priced, when the answer was (its `x-tollgate-cost`): the
    /// ledger takes it rather than pricing the same usage again.
    pub cost: Option<crate::governance::cost::Cost>,
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
        let guard = StreamAnswerGuard::new(&ctx.obligations);
        // Boxed: the stream's state is several times the whole answer's,
        // and every request would otherwise move that much on each call.
        Box::pin(stream(
            prepared, ctx, translator, writer, guard, headers, resp,
        ))
        .await
    } else {
        whole(prepared, ctx, answer_id, headers, resp).await
    }
}

/// A client's stream in its own dialect.
#[derive(Clone)]
pub struct StreamWriter {
    dialect: DialectWriter,
    /// Chunks written other than usage.
    pub events: u64,
    /// The client asked for the cost in the final usage (the model's prices).
    cost: Option<crate::governance::cost::Pricing>,
}

#[derive(Clone)]
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
            events: 0,
            cost: None,
        }
    }

    /// Puts the cost in the final usage chunk or event.
    pub fn with_cost(mut self, cost: Option<crate::governance::cost::Pricing>) -> Self {
        self.cost = cost;
        self
    }

    pub fn chunk(&mut self, chunk: &ChatChunk, usage: Usage, out: &mut Vec<u8>) {
        if !matches!(chunk, ChatChunk::Usage(_)) {
            self.events += 1;
        }
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

    /// What keeps a waiting stream's connection alive: an SSE comment for
    /// OpenAI clients, Anthropic's own `ping` event.
    pub fn keepalive(&self, out: &mut Vec<u8>) {
        match &self.dialect {
            DialectWriter::OpenAi { .. } => out.extend_from_slice(b": keep-alive\n\n"),
            DialectWriter::Anthropic(_) => {
                out.extend_from_slice(b"event: ping\ndata: {\"type\": \"ping\"}\n\n")
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
    ctx: &RequestCtx<'_>,
    answer_id: String,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Report {
    let inbound = ctx.inbound;
    let Prepared {
        mut upstream,
        first,
        deployment,
        ..
    } = prepared;
    let provider = &deployment.provider.name;
    let mut body = first;
    let failed = |err: ApiError, guard: Vec<String>| Report {
        delivered: Delivered::UpstreamFailed,
        usage: None,
        status: err.status,
        events: 0,
        guard,
        cost: None,
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
                return failed(err, Vec::new());
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
            return failed(err, Vec::new());
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
    let cost = ctx.answer_cost(deployment.spec.as_deref(), usage);
    let header = cost.and_then(crate::governance::cost::header);
    let mut all = headers.to_vec();
    if let Some((n, v)) = &header {
        all.push((n, v));
    }
    let mut guard = Vec::new();
    let mut pending = None;
    if ctx.obligations.need_canonical() {
        match Box::pin(guard_whole(ctx, &mut answer, &all, &mut guard)).await {
            Ok(p) => pending = p,
            Err(err) => {
                let _ = super::send_error(resp, inbound, &err, headers).await;
                return Report {
                    usage,
                    ..failed(err, guard)
                };
            }
        }
    }
    if let Some(id) = &pending {
        all.push(("x-tollgate-approval-id", id.as_bytes()));
        all.push(("x-tollgate-approval-status", b"pending"));
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
        events: 0,
        guard,
        cost,
    }
}

/// The answer-side guards over a whole answer: text rules on each choice's
/// content, then each tool call checked — refused, passed, or held for
/// approval (waited for, or, non-blocking, replaced by a pending marker
/// whose approval keeps the answer as it was: the id is returned).
async fn guard_whole(
    ctx: &RequestCtx<'_>,
    answer: &mut ChatResponse,
    headers: &[(&str, &[u8])],
    events: &mut Vec<String>,
) -> Result<Option<String>, ApiError> {
    let ob = &ctx.obligations;
    if let Some(text) = &ob.text {
        for choice in &mut answer.choices {
            let Some(content) = choice.message.content.as_mut() else {
                continue;
            };
            let (checked, event) = text.check_whole(content);
            if let Some(event) = &event {
                events.push(format!(
                    "leak:{:?}:{}",
                    event.action,
                    answer_guard::leak_rule(event)
                ));
                if answer_guard::blocks(event) {
                    return Err(answer_guard::leak_error(event));
                }
            }
            if let std::borrow::Cow::Owned(redacted) = checked {
                *content = redacted;
            }
        }
    }
    let cfg = &ctx.snapshot.config.guards.approvals;
    let mut pending = None;
    for c in 0..answer.choices.len() {
        let mut i = 0;
        while i < answer.choices[c].message.tool_calls.len() {
            let call = &answer.choices[c].message.tool_calls[i];
            let (binding, args) = match answer_guard::check_call(ob, &call.name, &call.arguments) {
                CallStep::Pass => {
                    i += 1;
                    continue;
                }
                CallStep::Refuse(e) => {
                    events.push(format!("tool:refused:{}", call.name));
                    return Err(e);
                }
                CallStep::Approve(binding, args) => (binding, args),
            };
            let non_blocking = cfg.mode == ApprovalMode::NonBlocking && ob.approval_id.is_none();
            if non_blocking && pending.is_some() {
                return Err(ApiError::coded(
                    403,
                    "permission_error",
                    "tool_call_refused",
                    "Only one tool call per answer can wait for approval.",
                ));
            }
            let held = non_blocking.then(|| {
                let mut body = Vec::new();
                write_answer(ctx.inbound, answer, &mut body);
                held_answer(200, "application/json", headers, body)
            });
            match answer_guard::open(ob, cfg, &binding, args, held, events)? {
                Opened::Released => i += 1,
                Opened::Pending(id) if non_blocking => {
                    let tool = binding.tool.clone();
                    let msg = &mut answer.choices[c].message;
                    msg.tool_calls.remove(i);
                    let marker = answer_guard::pending_marker(&id, &tool);
                    match msg.content.as_mut() {
                        Some(t) if !t.is_empty() => {
                            t.push_str("\n\n");
                            t.push_str(&marker);
                        }
                        _ => msg.content = Some(marker),
                    }
                    if msg.tool_calls.is_empty() {
                        answer.choices[c].finish_reason =
                            Some(crate::canonical::FinishReason::Stop);
                    }
                    pending = Some(id);
                }
                Opened::Pending(id) => {
                    wait_for(&id, &binding, cfg, events, None).await?;
                    i += 1;
                }
            }
        }
    }
    Ok(pending)
}

/// An answer kept for a non-blocking approval's replay.
fn held_answer(status: u16, content_type: &str, headers: &[(&str, &[u8])], body: Vec<u8>) -> Held {
    Held {
        status,
        content_type: content_type.to_owned(),
        headers: headers
            .iter()
            .filter(|(n, _)| n.starts_with("x-tollgate-") || *n == "request-id")
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect(),
        body,
    }
}

/// How often a waiting request looks at its pending approval.
const APPROVAL_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// Waits (bounded by `wait_ms`) for a human's decision on `id`; a stream
/// (`keepalive`) gets the dialect's keep-alive event every `keepalive_ms`.
async fn wait_for(
    id: &str,
    binding: &crate::guard::approvals::Binding,
    cfg: &crate::config::ApprovalsConfig,
    events: &mut Vec<String>,
    mut keepalive: Option<(&StreamWriter, &mut Responder<'_>)>,
) -> Result<(), ApiError> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_millis(cfg.wait_ms);
    let every = Duration::from_millis(cfg.keepalive_ms.max(1));
    let mut next_ping = Instant::now() + every;
    loop {
        match answer_guard::poll(id, binding, events) {
            Poll::Released => return Ok(()),
            Poll::Refused(e) => return Err(e),
            Poll::Waiting if Instant::now() >= deadline => {
                events.push(format!("approval:timeout:{id}"));
                return Err(answer_guard::expired(id, &binding.tool));
            }
            Poll::Waiting => {
                if let Some((writer, resp)) = keepalive.as_mut()
                    && Instant::now() >= next_ping
                {
                    let mut ping = Vec::new();
                    writer.keepalive(&mut ping);
                    if resp.send_chunk(&ping).await.is_err() {
                        return Err(ApiError::new(499, "client_gone", "The client left."));
                    }
                    next_ping = Instant::now() + every;
                }
                monoio::time::sleep(APPROVAL_POLL).await;
            }
        }
    }
}

/// Translates the upstream's SSE stream event by event as it arrives.
async fn stream(
    prepared: Prepared,
    ctx: &RequestCtx<'_>,
    mut translator: Box<dyn StreamTranslator>,
    mut writer: StreamWriter,
    mut guard: Option<StreamAnswerGuard>,
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
    let mut events = Vec::new();
    let gone = |translator: &dyn StreamTranslator, n: u64, guard: Vec<String>| Report {
        delivered: Delivered::ClientGone,
        usage: Some(translator.usage()),
        status: 200,
        events: n,
        guard,
        cost: None,
    };
    if resp.start_stream(200, &all, false).await.is_err() {
        return gone(&*translator, writer.events, events);
    }
    // What the client was sent, kept only where a non-blocking approval
    // may have to hold the whole answer for its replay.
    let mut transcript = (guard.is_some()
        && ctx.obligations.tool_policy.is_some()
        && ctx.snapshot.config.guards.approvals.mode == ApprovalMode::NonBlocking
        && ctx.obligations.approval_id.is_none())
    .then(Vec::new);
    let mut parser = SseParser::new();
    parser.feed(&first);
    let mut chunks = Vec::with_capacity(4);
    let mut steps = Vec::new();
    let mut out = Vec::with_capacity(1024);
    let mut fed_first = false;
    let mut ended = false;
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
        let mut stop = None;
        match guard.as_mut() {
            Some(g) => {
                for chunk in chunks.drain(..) {
                    g.push(&ctx.obligations, chunk, &mut steps);
                }
                let run = Box::pin(run_steps(
                    ctx,
                    &mut steps,
                    &mut writer,
                    &*translator,
                    &mut out,
                    &mut transcript,
                    &mut events,
                    resp,
                ));
                match run.await {
                    StepsEnd::Go => {}
                    StepsEnd::Stop(e) => stop = Some(e),
                    StepsEnd::Gone => return gone(&*translator, writer.events, events),
                    StepsEnd::Held(call) => {
                        let rest = Box::pin(hold_rest(
                            ctx,
                            &mut upstream.body,
                            &mut parser,
                            &mut *translator,
                            guard.as_mut(),
                            *call,
                            provider,
                            &mut events,
                        ));
                        match rest.await {
                            Ok((id, tool)) => {
                                let marker = ChatChunk::delta(crate::canonical::ChunkDelta {
                                    content: Some(answer_guard::pending_marker(&id, &tool)),
                                    ..Default::default()
                                });
                                writer.chunk(&marker, translator.usage(), &mut out);
                                writer.chunk(
                                    &ChatChunk::finish(crate::canonical::FinishReason::Stop),
                                    translator.usage(),
                                    &mut out,
                                );
                                writer.finish(translator.usage(), &mut out);
                                ended = true;
                            }
                            Err(e) => stop = Some(e),
                        }
                    }
                }
            }
            None => {
                for chunk in chunks.drain(..) {
                    writer.chunk(&chunk, translator.usage(), &mut out);
                }
            }
        }
        if ended {
            break None;
        }
        if !out.is_empty() {
            if let Some(t) = transcript.as_mut() {
                t.extend_from_slice(&out);
            }
            if resp.send_chunk(&out).await.is_err() {
                // The client left: dropping the upstream body closes that connection.
                return gone(&*translator, writer.events, events);
            }
            out.clear();
        }
        if stop.is_some() {
            break stop;
        }
        if failed.is_some() {
            break failed;
        }
    };
    let failure = failure.or_else(|| {
        if ended {
            return None;
        }
        match translator.finish() {
            Ok(mut last) => {
                match guard.as_mut() {
                    Some(g) => {
                        for chunk in last.drain(..) {
                            g.push(&ctx.obligations, chunk, &mut steps);
                        }
                        g.finish(&ctx.obligations, &mut steps);
                        // Calls still held at the very end were checked
                        // above; an approval here cannot wait (the
                        // upstream is done), so it is refused plainly.
                        for step in steps.drain(..) {
                            match step {
                                Step::Chunk(c) => writer.chunk(&c, translator.usage(), &mut out),
                                Step::Stop(e) => return Some(e),
                                Step::Approve(..) => {
                                    return Some(ApiError::coded(
                                        403,
                                        "permission_error",
                                        "tool_call_refused",
                                        "A tool call that needs approval ended the stream unfinished.",
                                    ));
                                }
                            }
                        }
                    }
                    None => {
                        for chunk in last.drain(..) {
                            writer.chunk(&chunk, translator.usage(), &mut out);
                        }
                    }
                }
                writer.finish(translator.usage(), &mut out);
                None
            }
            Err(e) => Some(e),
        }
    });
    let delivered = match failure {
        Some(mut err) => {
            // The upstream's own words may quote the key it was sent.
            crate::api::scrub::scrub_message(&mut err.message, &deployment.provider.api_keys);
            writer.error(&err, &mut out);
            if err.status == 403 {
                Delivered::Complete
            } else {
                Delivered::UpstreamFailed
            }
        }
        None => Delivered::Complete,
    };
    if resp.send_chunk(&out).await.is_ok() {
        let _ = resp.end_stream().await;
    }
    if let Some(g) = guard.as_mut() {
        events.append(&mut g.events);
    }
    Report {
        delivered,
        usage: Some(translator.usage()),
        status: 200,
        events: writer.events,
        guard: events,
        cost: None,
    }
}

/// How a batch of guarded steps ended.
enum StepsEnd {
    Go,
    Stop(ApiError),
    Gone,
    /// Non-blocking: the answer up to and with this call is held; the rest
    /// is to be added before the approval is opened.
    Held(Box<HeldCall>),
}

/// A non-blocking approval's answer while it is being held.
struct HeldCall {
    binding: crate::guard::approvals::Binding,
    args: String,
    /// Continues the client's stream as it would have gone on.
    writer: StreamWriter,
    bytes: Vec<u8>,
}

/// Writes the guard's steps: chunks go out, a refusal stops the stream, a
/// call needing approval is released, waited for (with keep-alives) or,
/// non-blocking, replaced by its pending marker.
#[allow(clippy::too_many_arguments)]
async fn run_steps(
    ctx: &RequestCtx<'_>,
    steps: &mut Vec<Step>,
    writer: &mut StreamWriter,
    translator: &dyn StreamTranslator,
    out: &mut Vec<u8>,
    transcript: &mut Option<Vec<u8>>,
    events: &mut Vec<String>,
    resp: &mut Responder<'_>,
) -> StepsEnd {
    let cfg = &ctx.snapshot.config.guards.approvals;
    let mut pending = steps.drain(..);
    while let Some(step) = pending.next() {
        match step {
            Step::Chunk(c) => writer.chunk(&c, translator.usage(), out),
            Step::Stop(e) => {
                events.push(format!("guard:stopped:{}", e.code.as_deref().unwrap_or("")));
                return StepsEnd::Stop(e);
            }
            Step::Approve(call, binding, args) => {
                if transcript.is_some() {
                    // Non-blocking: held is what was sent, the call, then
                    // the rest (`hold_rest`); the client gets the marker.
                    let mut bytes = transcript.take().unwrap_or_default();
                    bytes.extend_from_slice(out);
                    let mut held = writer.clone();
                    held.chunk(&call, translator.usage(), &mut bytes);
                    for rest in pending.by_ref() {
                        if let Step::Chunk(c) = rest {
                            held.chunk(&c, translator.usage(), &mut bytes);
                        }
                    }
                    return StepsEnd::Held(Box::new(HeldCall {
                        binding,
                        args,
                        writer: held,
                        bytes,
                    }));
                }
                match answer_guard::open(&ctx.obligations, cfg, &binding, args, None, events) {
                    Ok(Opened::Released) => writer.chunk(&call, translator.usage(), out),
                    Ok(Opened::Pending(id)) => {
                        if !out.is_empty() {
                            if resp.send_chunk(out).await.is_err() {
                                return StepsEnd::Gone;
                            }
                            out.clear();
                        }
                        match wait_for(&id, &binding, cfg, events, Some((writer, resp))).await {
                            Ok(()) => writer.chunk(&call, translator.usage(), out),
                            Err(e) if e.status == 499 => return StepsEnd::Gone,
                            Err(e) => return StepsEnd::Stop(e),
                        }
                    }
                    Err(e) => return StepsEnd::Stop(e),
                }
            }
        }
    }
    StepsEnd::Go
}

/// Non-blocking: reads the rest of the upstream's answer into the held
/// copy (further calls still checked; a second approval in one answer ends
/// it with a refusal), then opens the approval with it. Answers its id and
/// the tool's name for the marker.
#[allow(clippy::too_many_arguments)]
async fn hold_rest(
    ctx: &RequestCtx<'_>,
    body: &mut crate::upstream::UpstreamBody,
    parser: &mut SseParser,
    translator: &mut dyn StreamTranslator,
    mut guard: Option<&mut StreamAnswerGuard>,
    mut held: HeldCall,
    provider: &str,
    events: &mut Vec<String>,
) -> Result<(String, String), ApiError> {
    let ob = &ctx.obligations;
    let mut chunks = Vec::new();
    let mut steps = Vec::new();
    let mut stopped = None;
    let mut eof = false;
    loop {
        while let Some(event) = parser.next_event() {
            if let Err(e) = translator.on_event(&event, &mut chunks) {
                stopped = Some(e);
            }
        }
        let done = stopped.is_some() || eof || body.is_done();
        if done && let Ok(last) = translator.finish() {
            chunks.extend(last);
        }
        if let Some(g) = guard.as_deref_mut() {
            for c in chunks.drain(..) {
                g.push(ob, c, &mut steps);
            }
            if done {
                g.finish(ob, &mut steps);
            }
        }
        for step in steps.drain(..) {
            match step {
                Step::Chunk(c) => held.writer.chunk(&c, translator.usage(), &mut held.bytes),
                Step::Stop(e) => stopped = stopped.or(Some(e)),
                Step::Approve(..) => {
                    stopped = stopped.or(Some(ApiError::coded(
                        403,
                        "permission_error",
                        "tool_call_refused",
                        "Only one tool call per answer can wait for approval.",
                    )))
                }
            }
        }
        if stopped.is_some() || done {
            break;
        }
        match body.next().await {
            Ok(Some(piece)) => parser.feed(piece),
            Ok(None) => eof = true,
            Err(e) => stopped = Some(e.to_api(provider)),
        }
    }
    match &stopped {
        Some(e) => held.writer.error(e, &mut held.bytes),
        None => held.writer.finish(translator.usage(), &mut held.bytes),
    }
    let cfg = &ctx.snapshot.config.guards.approvals;
    let answer = Held {
        status: 200,
        content_type: "text/event-stream".into(),
        headers: Vec::new(),
        body: held.bytes,
    };
    let tool = held.binding.tool.clone();
    match answer_guard::open(ob, cfg, &held.binding, held.args, Some(answer), events)? {
        Opened::Pending(id) => Ok((id, tool)),
        // `open` releases only for a presented approval, and a request that
        // presents one is never held.
        Opened::Released => Err(ApiError::coded(
            409,
            "invalid_request_error",
            "approval_conflict",
            "The approval was already released.",
        )),
    }
}
