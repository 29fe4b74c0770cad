//! Governance at the pipeline's two ends: admission (before any upstream is
//! tried: the key's models, priority, limits and budgets, reserved) and
//! accounting (once the request has ended: every attempt priced, the key
//! charged, the reservations settled, one ledger row queued).

use std::rc::Rc;

use super::attempt::RequestCtx;
use super::record::DeliveryRecord;
use crate::api::ApiError;
use crate::governance::cost::{self, Cost};
use crate::governance::enforce::{self, Admission, Ask, Refusal};
use crate::governance::state::{CoreGov, GovSnapshot, Key};
use crate::governance::types::LedgerRow;
use crate::router::Snapshot;
use crate::router::decide::Decision;
use crate::router::plan::Plan;

/// Admits the request under its key's (and team's, model's, end user's)
/// limits and budgets, reserving its estimated tokens and cost.
pub(super) fn admit(
    ctx: &RequestCtx<'_>,
    gov: &Rc<CoreGov>,
    key: Option<&Key>,
    decision: &Decision,
    end_user: Option<&str>,
) -> Result<Admission, Box<Refusal>> {
    let spec = decision
        .model
        .deployments
        .first()
        .and_then(|d| d.spec.as_deref());
    let output = ctx
        .max_tokens()
        .map(u64::from)
        .unwrap_or_else(|| spec.map_or(4096, |s| u64::from(s.default_output_tokens)));
    let body = &ctx.req.body;
    let prompt = || reservation_estimate(body);
    let price = |p: u64, o: u64| cost::estimate(spec, p, o);
    enforce::admit(
        gov,
        key,
        &Ask {
            model: &decision.model.name,
            end_user,
            priority_header: ctx.req.header("x-tollgate-priority"),
            prompt_tokens: &prompt,
            output_tokens: output,
            price: &price,
        },
    )
}

/// What a request's prompt reserves: a token per three bytes of its body,
/// JSON syntax included — high for English prose (about four bytes a token),
/// close for CJK — and corrected to the provider's count when it ends. The
/// counter's own estimate (below) reads every character: on a 1 KB body it
/// cost as much as the rest of the request, so it is kept for counting
/// answers whose provider reports nothing.
pub(super) fn reservation_estimate(body: &[u8]) -> u64 {
    (body.len() as u64).div_ceil(3)
}

/// The estimated prompt tokens of a body: the context counter's estimate
/// over its text (JSON syntax included, so it errs high).
pub(super) fn prompt_estimate(body: &[u8]) -> u64 {
    match std::str::from_utf8(body) {
        Ok(text) => u64::from(crate::context_window::count::estimate::estimate(text)),
        Err(_) => body.len() as u64 / 2,
    }
}

/// Drops the leading targets whose provider endpoint has spent its own
/// limit, taking the first remaining one's request from it.
pub(super) fn skip_spent_providers(admission: &mut Admission, planned: &mut Plan) {
    while let Some(first) = planned.targets.first() {
        if admission.take_provider(&first.provider.name) {
            return;
        }
        let skipped = planned.targets.remove(0);
        planned.excluded.push(format!(
            "provider `{}` is at its own rate limit",
            skipped.provider.name
        ));
    }
}

pub(super) fn providers_spent(decision: &Decision) -> Box<Refusal> {
    Box::new(Refusal {
        error: ApiError::coded(
            429,
            "rate_limit_error",
            "provider_limit_reached",
            format!(
                "Every provider that serves model `{}` is at its rate limit.",
                decision.model.name
            ),
        ),
        headers: vec![("retry-after", b"1".to_vec())],
        retry_soon: false,
    })
}

/// Prices every attempt that produced tokens, settles the reservations to
/// what the key is charged, and queues the ledger row.
pub(super) fn account(
    rec: &mut DeliveryRecord,
    body: &[u8],
    snapshot: &Snapshot,
    gov: &GovSnapshot,
    admission: Option<&mut Admission>,
) {
    let spec_of = |label: &str| {
        snapshot
            .deployments
            .iter()
            .find(|d| *d.label == *label)
            .and_then(|d| d.spec.as_deref())
    };
    // Asked only when a hedge lost: most requests have no loser.
    let mut charge_losers: Option<bool> = None;
    let reserved = admission.as_ref().map_or(0, |a| a.reserved_prompt_tokens());
    let estimated_prompt = || match reserved {
        0 => prompt_estimate(body),
        n => n,
    };
    let mut row = LedgerRow {
        ts_ms: crate::resilience::unix_millis(),
        request_id: std::mem::take(&mut rec.request_id),
        key_id: rec.key_id.take(),
        team: rec.team.take(),
        end_user: rec.end_user.take(),
        // The route's own name when it is the model asked for: a batch's
        // rows then share one string, compared by address.
        model: match (rec.model_configured, rec.route_name.take()) {
            (true, Some(name)) if *name == *rec.requested_model => name,
            (true, _) => rec.requested_model.as_str().into(),
            (false, _) => "unknown".into(),
        },
        served_by: rec.served.as_ref().map(|d| d.label.clone()),
        priced: true,
        ..LedgerRow::default()
    };
    let mut provider = Cost {
        nanos: 0,
        priced: true,
    };
    let mut charge = 0i64;
    // The in-process model answers without an attempt record.
    let in_process = match (&rec.served, rec.attempts.is_empty(), rec.usage) {
        (Some(d), true, Some(usage)) => Some(crate::gateway::engine::AttemptRecord {
            deployment: String::from(&*d.label),
            outcome: "ok".into(),
            ttfb_ms: None,
            usage: Some(usage),
            cost: None,
        }),
        _ => None,
    };
    for a in rec.attempts.iter().chain(&in_process) {
        let (usage, loser) = match (&a.usage, a.outcome.as_str()) {
            (Some(u), _) => (*u, false),
            // A hedge cancelled at the commit point had its prompt read by
            // the provider, which bills it: the gateway's estimate of it.
            (None, "cancelled") if rec.ttfb_ms.is_some() => (
                crate::canonical::Usage {
                    prompt_tokens: estimated_prompt(),
                    total_tokens: estimated_prompt(),
                    ..Default::default()
                },
                true,
            ),
            _ => continue,
        };
        // The served answer was priced as it went out; others are here.
        let c = match a.cost.filter(|_| !loser) {
            Some(c) => c,
            None => cost::of_usage(spec_of(&a.deployment), &usage),
        };
        provider += c;
        row.prompt_tokens += usage.prompt_tokens;
        row.cached_tokens += usage.cached_prompt_tokens;
        row.cache_write_tokens += usage.cache_creation_tokens;
        row.completion_tokens += usage.completion_tokens;
        row.reasoning_tokens += usage.reasoning_tokens;
        let charged_loser = loser
            && *charge_losers.get_or_insert_with(|| {
                snapshot
                    .model(&row.model)
                    .and_then(|m| m.hedge.as_ref())
                    .is_some_and(|h| h.charge_losers)
            });
        if loser && !charged_loser {
            row.gateway_nanos += c.nanos;
        } else {
            charge += c.nanos;
        }
    }
    row.provider_nanos = provider.nanos;
    row.charge_nanos = charge;
    row.priced = provider.priced;
    if let Some(a) = admission {
        a.settle(row.prompt_tokens + row.completion_tokens, charge);
    }
    // A request refused before any provider was asked spent nothing.
    let refused = rec.ending == super::record::Ending::Refused && rec.served.is_none();
    if gov.ledger && !refused && crate::governance::runtime::get().is_some() {
        crate::governance::ledger::push(row);
    }
}
