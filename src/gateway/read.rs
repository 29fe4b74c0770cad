//! Reading a request once, in the form its route needs: the same-dialect
//! envelope (model, stream, the span of `model`) when the body can go
//! upstream as it is, the canonical parse when some provider must translate
//! it; plus the routing facts (tags, complexity) and the client's deadline.

use std::ops::Range;

use super::attempt::RequestCtx;
use super::dialect::Inbound;
use super::engine::Trail;
use crate::api::ApiError;
use crate::canonical::json_scan::{find_top_level_values, top_level_members};
use crate::resilience::{ComplexitySignals, ComplexityWeights, complexity_score, count_keywords};
use crate::router::decide::{Decision, model_chain};
use crate::router::{ClientKey, Snapshot};
use crate::server::Request;

/// `x-tollgate-timeout-ms`: a client's lower deadline for each attempt's
/// output, honoured for keys allowed to use it (and for everyone when no
/// keys are configured); ignored for other keys.
pub(super) fn timeout_cap(
    snapshot: &Snapshot,
    key: Option<&ClientKey>,
    req: &Request,
) -> Result<Option<std::time::Duration>, ApiError> {
    let Some(value) = req.header_str("x-tollgate-timeout-ms") else {
        return Ok(None);
    };
    let allowed = snapshot.keys.is_empty() || key.is_some_and(|k| k.allow_timeout_header);
    if !allowed {
        return Ok(None);
    }
    match value.trim().parse::<u64>() {
        Ok(ms) if (1..=3_600_000).contains(&ms) => Ok(Some(std::time::Duration::from_millis(ms))),
        _ => Err(ApiError::invalid_request(
            "invalid_timeout_header",
            "`x-tollgate-timeout-ms` must be a whole number of milliseconds from 1 to 3600000.",
        )),
    }
}

/// Validates the body in the form its route needs: a chain served only by
/// translating providers is parsed once, into the canonical model, which
/// also holds `metadata`; anything else gets the passthrough inspection,
/// after one scan that finds `model` (unless repeated) and `metadata` (the
/// canonical parse follows lazily if a fallback needs it). Answers the
/// requested model and the routing tags in `metadata`.
pub(super) fn read_request(
    ctx: &mut RequestCtx<'_>,
    snapshot: &Snapshot,
    first_model: Option<Range<usize>>,
) -> Result<(String, Option<String>), ApiError> {
    let quick = first_model.and_then(|span| plain_string(&ctx.req.body, span));
    let translated_only = |m: &crate::router::ModelRoute| {
        m.deployments
            .iter()
            .all(|d| !ctx.inbound.is_native(d.provider.kind))
    };
    let all_translated = quick.and_then(|m| snapshot.model(m)).is_some_and(|route| {
        translated_only(route)
            && (route.fallbacks.is_empty()
                || model_chain(snapshot, route)
                    .iter()
                    .all(|m| translated_only(m)))
    });
    // One pass finds what routing and the whole-answer deadline need.
    let scan = |body: &[u8]| {
        find_top_level_values(
            body,
            [
                b"model",
                b"metadata",
                b"max_completion_tokens",
                b"max_tokens",
            ],
        )
    };
    let mut scanned = None;
    if all_translated {
        match ctx.canonical() {
            Ok(canonical) if Some(canonical.model.as_str()) == quick => {
                let tags = metadata_value(&canonical.metadata, "tags").map(str::to_owned);
                let (model, stream, include_usage) = (
                    canonical.model.clone(),
                    canonical.stream,
                    canonical.include_usage,
                );
                let _ = ctx.max_tokens.set(canonical.sampling.max_output_tokens);
                ctx.stream = stream;
                ctx.include_usage = include_usage;
                return Ok((model, tags));
            }
            // A repeated `model` may parse to another value than the first
            // one seen: that body takes the general path, which routes by
            // the parse.
            Ok(_) => {}
            // What is not JSON at all gets the general path's error.
            Err(e) => {
                let found = scan(&ctx.req.body);
                if found.as_ref().is_some_and(|[model, ..]| model.is_some()) {
                    return Err(e);
                }
                scanned = found;
            }
        }
    }
    let [model_span, metadata_span, completion, max] =
        scanned.or_else(|| scan(&ctx.req.body)).unwrap_or_default();
    let number = |span: Range<usize>| std::str::from_utf8(&ctx.req.body[span]).ok()?.parse().ok();
    let _ = ctx.max_tokens.set(completion.or(max).and_then(number));
    let envelope = match ctx.inbound {
        Inbound::OpenAi => crate::api::chat::inspect_with_span(&ctx.req.body, model_span)?,
        Inbound::Anthropic => {
            // The scan above found `model`'s span: no second pass for it.
            let route = crate::api::anthropic::read_messages_route(&ctx.req.body)?;
            crate::api::chat::ChatEnvelope {
                model: route.model,
                stream: route.stream,
                include_usage: false,
                model_span,
            }
        }
    };
    ctx.stream = envelope.stream;
    ctx.include_usage = envelope.include_usage;
    let model = envelope.model.clone();
    let _ = ctx.envelope.set(Ok(envelope));
    Ok((
        model,
        metadata_span.and_then(|span| tags_in(&ctx.req.body[span])),
    ))
}

fn metadata_value<'m>(metadata: &'m [(String, String)], key: &str) -> Option<&'m str> {
    metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `tags` in a `metadata` object's JSON text.
fn tags_in(metadata: &[u8]) -> Option<String> {
    use crate::canonical::tape::prelude::*;
    let mut copy = metadata.to_vec();
    let v = simd_json::to_owned_value(&mut copy).ok()?;
    v.get("tags").and_then(|t| t.as_str()).map(str::to_owned)
}

/// A JSON string value without escapes, as `&str` (e.g. the `model` for a
/// quick route lookup); full validation happens after routing.
fn plain_string(body: &[u8], span: Range<usize>) -> Option<&str> {
    let raw = body.get(span.start + 1..span.end.checked_sub(1)?)?;
    if body[span.start] != b'"' || raw.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

/// Tags from `x-tollgate-tags` and `metadata.tags` (both comma-separated).
pub(super) fn tags(req: &Request, metadata_tags: Option<String>) -> Vec<String> {
    let header = req.header_str("x-tollgate-tags").unwrap_or_default();
    header
        .split(',')
        .chain(metadata_tags.as_deref().unwrap_or_default().split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The complexity score, computed only when a rule looks at it. Signals are
/// read from the raw body: the size of `messages`, whether `tools` is
/// non-empty, whether reasoning is asked for, and keyword hits in the messages.
pub(super) fn complexity(snapshot: &Snapshot, body: &[u8]) -> f64 {
    let rules = &snapshot.config.rules;
    if !rules
        .iter()
        .any(|r| r.when.min_complexity.is_some() || r.when.max_complexity.is_some())
    {
        return 0.0;
    }
    let c = &snapshot.config.routing.complexity;
    let mut signals = ComplexitySignals {
        prompt_chars: 0,
        has_tools: false,
        reasoning: false,
        keyword_hits: 0,
    };
    for (k, v) in top_level_members(body).unwrap_or_default() {
        let value = &body[v];
        match &body[k.start + 1..k.end - 1] {
            b"messages" => {
                signals.prompt_chars = value.len() as u64;
                let text = String::from_utf8_lossy(value);
                let lowered: Vec<String> =
                    c.keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
                signals.keyword_hits = count_keywords(&text, &lowered);
            }
            b"tools" => signals.has_tools = value.len() > 2,
            b"reasoning_effort" | b"reasoning" | b"thinking" => {
                signals.reasoning = value != b"null" && value != b"\"none\"";
            }
            _ => {}
        }
    }
    let weights = ComplexityWeights {
        long_prompt_chars: c.long_prompt_chars,
        prompt_weight: c.prompt_weight,
        tools_weight: c.tools_weight,
        reasoning_weight: c.reasoning_weight,
        keyword_weight: c.keyword_weight,
    };
    complexity_score(&signals, &weights)
}

/// `x-tollgate-route`: the decision and how it was carried out.
pub(super) fn route_value(decision: &Decision, trail: Option<(&Trail, &str)>) -> String {
    let mut v = decision.reason.clone();
    if let Some((t, served)) = trail {
        v.push_str(&format!("; deployment={served}; attempts={}", t.attempts));
        if t.hedged {
            v.push_str("; hedged");
        }
        if t.waited_ms > 0 {
            v.push_str(&format!("; waited={}ms", t.waited_ms));
        }
        if !t.failures.is_empty() {
            v.push_str("; failed=");
            v.push_str(&t.failures.join(","));
        }
    }
    v.retain(|c| c.is_ascii_graphic() || c == ' ');
    v
}
