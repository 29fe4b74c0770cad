//! Reading a request once, in the form its route needs: the same-dialect
//! envelope (model, stream, the span of `model`) when the body can go
//! upstream as it is, the canonical parse when some provider must translate
//! it; plus the routing facts (tags, complexity) and the client's deadline.

use std::ops::Range;

use super::attempt::RequestCtx;
use super::engine::Trail;
use crate::api::ApiError;
use crate::canonical::json_scan::{find_top_level_value, top_level_members};
use crate::resilience::{ComplexitySignals, ComplexityWeights, complexity_score, count_keywords};
use crate::router::decide::{Decision, model_chain};
use crate::router::{ClientKey, Snapshot};
use crate::server::Request;

/// `x-tollgate-timeout-ms`: a client's lower deadline for each attempt's
/// output, honoured for keys allowed to use it (and for everyone when no
/// keys are configured); ignored for other keys.
pub(super) fn timeout_cap(
    keys_required: bool,
    key: Option<&ClientKey>,
    req: &Request,
) -> Result<Option<std::time::Duration>, ApiError> {
    let Some(value) = req.header_str("x-tollgate-timeout-ms") else {
        return Ok(None);
    };
    let allowed = !keys_required || key.is_some_and(|k| k.allow_timeout_header);
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
/// also holds `metadata`; anything else gets the dialect's envelope, one
/// tape read (the canonical parse follows lazily if a fallback needs it).
/// Answers the requested model, the routing tags in `metadata` and the end
/// user the body names.
pub(super) fn read_request(
    ctx: &mut RequestCtx<'_>,
    snapshot: &Snapshot,
    first_model: Option<Range<usize>>,
) -> Result<(String, Option<String>, Option<String>), ApiError> {
    let quick = first_model
        .clone()
        .and_then(|span| plain_string(&ctx.req.body, span));
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
    if all_translated {
        match ctx.canonical() {
            Ok(canonical) if Some(canonical.model.as_str()) == quick => {
                let tags = metadata_value(&canonical.metadata, "tags").map(str::to_owned);
                let (model, stream, include_usage) = (
                    canonical.model.clone(),
                    canonical.stream,
                    canonical.include_usage,
                );
                let end_user = canonical
                    .user
                    .as_deref()
                    .and_then(crate::api::chat::end_user_id);
                let _ = ctx.max_tokens.set(canonical.sampling.max_output_tokens);
                ctx.stream = stream;
                ctx.include_usage = include_usage;
                return Ok((model, tags, end_user));
            }
            // A repeated `model` may parse to another value than the first
            // one seen: that body takes the general path, which routes by
            // the parse.
            Ok(_) => {}
            // What is not JSON at all gets the general path's error.
            Err(e) => {
                if find_top_level_value(&ctx.req.body, b"model").is_some() {
                    return Err(e);
                }
            }
        }
    }
    // One tape read validates the body and finds what routing and the
    // whole-answer deadline need; the span of `model` came from the look
    // that stopped at it.
    let envelope = ctx.inbound.envelope(&ctx.req.body, first_model)?;
    ctx.stream = envelope.stream;
    ctx.include_usage = envelope.include_usage;
    let _ = ctx.max_tokens.set(envelope.max_tokens);
    let answer = (
        envelope.model.clone(),
        envelope.tags.clone(),
        envelope.end_user.clone(),
    );
    let _ = ctx.envelope.set(Ok(envelope));
    Ok(answer)
}

fn metadata_value<'m>(metadata: &'m [(String, String)], key: &str) -> Option<&'m str> {
    metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
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
    use std::fmt::Write;
    let mut v = String::with_capacity(decision.reason.len() + 96);
    v.push_str(&decision.reason);
    if let Some((t, served)) = trail {
        v.push_str("; deployment=");
        v.push_str(served);
        let _ = write!(v, "; attempts={}", t.attempts);
        if t.hedged {
            v.push_str("; hedged");
        }
        if t.waited_ms > 0 {
            let _ = write!(v, "; waited={}ms", t.waited_ms);
        }
        if !t.failures.is_empty() {
            v.push_str("; failed=");
            v.push_str(&t.failures.join(","));
        }
    }
    if !v.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        v.retain(|c| c.is_ascii_graphic() || c == ' ');
    }
    v
}
