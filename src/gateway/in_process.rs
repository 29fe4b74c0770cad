//! The in-process mock provider behind the pipeline. An OpenAI client whose
//! request no stage changed is echoed straight off its body; any other
//! request goes the way a translated one does: the canonical request is
//! written in the OpenAI format the mock answers in, and its answer or
//! stream is read back through the OpenAI adapter into the client's dialect.

use super::attempt::RequestCtx;
use super::dialect::Inbound;
use super::engine::Delivered;
use super::translated::{Report, StreamWriter, write_answer};
use crate::api::ApiError;
use crate::canonical::Usage;
use crate::mock_upstream::echo::EchoPlan;
use crate::providers::adapter::adapter;
use crate::server::Responder;
use crate::sse::SseParser;

pub async fn serve(
    ctx: &RequestCtx<'_>,
    spec: Option<&crate::context_window::catalog::ModelSpec>,
    upstream_model: &str,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Result<Report, ApiError> {
    let answer_id = ctx.inbound.answer_id(ctx.request_id);
    let body = if ctx.is_native(crate::config::ProviderKind::OpenaiCompatible) {
        ctx.req.body.clone()
    } else {
        let mut out = Vec::with_capacity(ctx.req.body.len());
        crate::providers::openai::write_request(ctx.canonical()?, upstream_model, &mut out);
        out
    };
    let Some(mut plan) = EchoPlan::from_request(&body) else {
        return Err(ApiError::invalid_request(
            "invalid_json",
            "The request could not be read.",
        ));
    };
    plan.model = upstream_model.to_string();
    let usage = Usage {
        prompt_tokens: plan.prompt_tokens,
        completion_tokens: plan.completion_tokens(),
        total_tokens: plan.prompt_tokens + plan.completion_tokens(),
        ..Usage::default()
    };
    let native = ctx.inbound == Inbound::OpenAi && !ctx.rewritten;
    if !plan.stream {
        let json = plan.completion_json(&answer_id);
        let cost = ctx.answer_cost(spec, Some(usage));
        let header = cost.and_then(crate::governance::cost::header);
        let mut with_cost = headers.to_vec();
        if let Some((n, v)) = &header {
            with_cost.push((n, v));
        }
        let headers = &with_cost[..];
        let sent = if native {
            let mut all = Vec::with_capacity(headers.len() + 1);
            all.push(("content-type", b"application/json" as &[u8]));
            all.extend_from_slice(headers);
            resp.send(200, &all, &json).await
        } else {
            let mut answer = (adapter(crate::config::ProviderKind::Mock).parse_answer)(&json)
                .map_err(ApiError::internal)?;
            answer.id = answer_id;
            resp.send_json_written(200, headers, |out| write_answer(ctx.inbound, &answer, out))
                .await
        };
        return Ok(report(sent.is_ok(), usage));
    }
    let mut all = Vec::with_capacity(headers.len() + 2);
    all.push(("content-type", b"text/event-stream" as &[u8]));
    all.push(("cache-control", b"no-cache"));
    all.extend_from_slice(headers);
    if resp.start_stream(200, &all, false).await.is_err() {
        return Ok(report(false, usage));
    }
    let events = plan.stream_events(&answer_id, None);
    if native && !ctx.obligations.need_canonical() && !ctx.include_cost {
        for event in events {
            if resp.send_chunk(&event).await.is_err() {
                return Ok(report(false, usage));
            }
        }
        return Ok(report(resp.end_stream().await.is_ok(), usage));
    }
    let mut translator = (adapter(crate::config::ProviderKind::Mock).translator)(true);
    let mut writer = StreamWriter::new(ctx.inbound, &answer_id, upstream_model, ctx.include_usage)
        .with_cost(ctx.include_cost.then(|| {
            crate::governance::cost::Pricing(spec.map(|s| std::sync::Arc::new(s.clone())))
        }));
    let mut parser = SseParser::new();
    let mut chunks = Vec::new();
    let mut out = Vec::new();
    for event in &events {
        parser.feed(event);
    }
    while let Some(event) = parser.next_event() {
        translator.on_event(&event, &mut chunks)?;
    }
    chunks.extend(translator.finish()?);
    for chunk in &chunks {
        writer.chunk(chunk, translator.usage(), &mut out);
    }
    writer.finish(translator.usage(), &mut out);
    let sent = resp.send_chunk(&out).await.is_ok() && resp.end_stream().await.is_ok();
    Ok(report(sent, translator.usage()))
}

fn report(sent: bool, usage: Usage) -> Report {
    Report {
        delivered: if sent {
            Delivered::Complete
        } else {
            Delivered::ClientGone
        },
        usage: Some(usage),
        status: 200,
        events: 0,
        guard: Vec::new(),
        cost: None,
    }
}
