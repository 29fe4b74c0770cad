//! The one request path every inbound API takes: authenticate, read the
//! request once, decide the route, run the policy stages, plan, run the
//! attempt engine to the commit point, deliver — then send whatever error
//! is owed from one place, and hand the delivery record to `record`.

use std::cell::OnceCell;

use super::Gateway;
use super::attempt::RequestCtx;
use super::auth::authenticate;
use super::dialect::Inbound;
use super::engine::{self, Outcome, Trail};
use super::obligations::Obligations;
use super::policy::StageRequest;
use super::read::{complexity, read_request, route_value, tags, timeout_cap};
use super::record::{DeliveryRecord, Ending, record};
use super::translated::Report;
use crate::api::ApiError;
use crate::canonical::json_scan::first_top_level_value;
use crate::config::ProviderKind;
use crate::providers::adapter::adapter;
use crate::router::decide::{RequestFacts, decide};
use crate::router::plan::plan;
use crate::router::{self, Snapshot};
use crate::server::{Request, Responder};

/// How the request path ended, before anything owed is sent.
enum Exit {
    /// The answer went out (whole, or broken after the commit point).
    Delivered(Report),
    /// No answer: an error in the client's dialect, with extra headers.
    Error(ApiError, Vec<(&'static str, Vec<u8>)>),
    /// A same-dialect provider's own error answer, relayed as it came.
    Raw(u16, Vec<(String, Vec<u8>)>, Vec<u8>),
    /// The client left before any answer.
    Abandoned,
    /// Governance refused it (key, model, limit, budget), with its headers.
    Refused(Box<crate::governance::enforce::Refusal>),
    /// A non-blocking approval's held answer, released to its resubmission.
    Replayed(crate::guard::approvals::Held),
}

impl From<ApiError> for Exit {
    fn from(e: ApiError) -> Self {
        Exit::Error(e, Vec::new())
    }
}

pub async fn serve(gw: &Gateway, inbound: Inbound, req: Request, resp: &mut Responder<'_>) {
    let request_id = gw.request_id(&req);
    let mut rec = DeliveryRecord::new(&request_id, inbound);
    // Hold this snapshot to the end: a reload mid-request does not affect it.
    let snapshot = router::current();
    let gov = crate::governance::state::current();
    let mut admission = None;
    let exit = run(
        inbound,
        &req,
        &request_id,
        &snapshot,
        Governed {
            gov: &gov,
            admission: &mut admission,
        },
        &mut rec,
        resp,
    )
    .await;
    let id = ("x-request-id", request_id.as_bytes());
    match exit {
        Exit::Delivered(mut report) => {
            rec.status = report.status;
            rec.guard.append(&mut report.guard);
            // A provider that reports no usage (some compatible ones, on
            // streams) is not served for free: the gateway counts the answer
            // itself — the prompt's estimate, and one token per output event.
            let reported = report
                .usage
                .is_some_and(|u| u.prompt_tokens + u.completion_tokens > 0);
            if !reported && report.events > 0 && gov.active {
                let prompt = super::spend::prompt_estimate(&req.body);
                report.usage = Some(crate::canonical::Usage {
                    prompt_tokens: prompt,
                    completion_tokens: report.events,
                    total_tokens: prompt + report.events,
                    ..Default::default()
                });
                rec.usage_counted = true;
            }
            rec.usage = report.usage;
            if let Some(served) = rec.attempts.iter_mut().rev().find(|a| a.outcome == "ok") {
                served.usage = report.usage;
                // A usage the gateway counted itself was never priced.
                served.cost = report.cost.filter(|_| !rec.usage_counted);
            }
            rec.ending = match report.delivered {
                engine::Delivered::Complete => Ending::Answered,
                engine::Delivered::UpstreamFailed => Ending::UpstreamFailed,
                engine::Delivered::ClientGone => Ending::ClientGone,
            };
        }
        Exit::Refused(refusal) => {
            rec.status = refusal.error.status;
            rec.ending = Ending::Refused;
            let mut headers: Vec<(&str, &[u8])> = vec![id];
            headers.extend(refusal.headers.iter().map(|(n, v)| (*n, v.as_slice())));
            let _ = super::send_error(resp, inbound, &refusal.error, &headers).await;
        }
        Exit::Error(err, extra) => {
            rec.status = err.status;
            if rec.attempts.is_empty() {
                rec.ending = Ending::Refused;
            } else {
                rec.ending = Ending::UpstreamFailed;
            }
            let mut headers: Vec<(&str, &[u8])> = vec![id];
            headers.extend(extra.iter().map(|(n, v)| (*n, v.as_slice())));
            let _ = super::send_error(resp, inbound, &err, &headers).await;
        }
        Exit::Raw(status, upstream, body) => {
            rec.status = status;
            rec.ending = Ending::UpstreamFailed;
            let mut headers: Vec<(&str, &[u8])> = vec![id];
            if inbound == Inbound::Anthropic {
                headers.push(("request-id", request_id.as_bytes()));
            }
            headers.extend(upstream.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
            let _ = resp.send(status, &headers, &body).await;
        }
        Exit::Abandoned => {
            rec.ending = Ending::ClientGone;
            resp.abort();
        }
        Exit::Replayed(held) => {
            rec.status = held.status;
            rec.ending = Ending::Answered;
            let mut headers: Vec<(&str, &[u8])> = vec![
                id,
                ("content-type", held.content_type.as_bytes()),
                ("x-tollgate-approval-status", b"released"),
            ];
            headers.extend(
                held.headers
                    .iter()
                    .filter(|(n, _)| n != "x-request-id")
                    .map(|(n, v)| (n.as_str(), v.as_slice())),
            );
            let _ = resp.send(held.status, &headers, &held.body).await;
        }
    }
    rec.close();
    record(&rec, snapshot.config.server.access_log);
    if gov.active {
        super::spend::account(&mut rec, &req.body, &snapshot, &gov, admission.as_mut());
    }
}

/// What governance lends the request path: its snapshot, and where the
/// request's admission (its reservations) is kept for settling at the end.
struct Governed<'a> {
    gov: &'a std::rc::Rc<crate::governance::state::CoreGov>,
    admission: &'a mut Option<crate::governance::enforce::Admission>,
}

async fn run(
    inbound: Inbound,
    req: &Request,
    request_id: &str,
    snapshot: &Snapshot,
    governed: Governed<'_>,
    rec: &mut DeliveryRecord,
    resp: &mut Responder<'_>,
) -> Exit {
    let gov = governed.gov;
    let key = match authenticate(gov, req) {
        Ok(k) => k,
        Err(e) => return e.into(),
    };
    rec.key_id = key.map(|k| k.id_shared.clone());
    rec.team = key.and_then(|k| k.team_shared.clone());
    let mut ctx = RequestCtx {
        inbound,
        snapshot,
        req,
        request_id,
        stream: false,
        include_usage: false,
        envelope: OnceCell::new(),
        canonical: OnceCell::new(),
        timeout_cap: None,
        hold_bytes: snapshot.config.routing.retry.hold_answer_bytes,
        max_tokens: OnceCell::new(),
        obligations: Obligations {
            // Only the guards' approvals bind to the key.
            key_id: key
                .filter(|_| snapshot.guards.is_some())
                .map(|k| k.id.clone()),
            approval_id: req
                .header_str("x-tollgate-approval-id")
                .map(|v| v.trim().to_owned()),
            ..Obligations::default()
        },
        rewritten: false,
        guard_flags: String::new(),
        price_answers: gov.active,
        include_cost: gov.active
            && req
                .header("x-tollgate-include-cost")
                .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"true")),
    };
    if let Some(approval) = ctx.obligations.approval_id.as_deref()
        && snapshot.guards.is_some()
    {
        use super::answer_guard::{Replay, replay};
        match replay(approval, ctx.obligations.key_id.as_deref(), &mut rec.guard) {
            Replay::NotHeld => {}
            Replay::Answer(held) => return Exit::Replayed(held),
            Replay::Refused(e) => return e.into(),
        }
    }
    match timeout_cap(gov.required, key, req) {
        Ok(cap) => ctx.timeout_cap = cap,
        Err(e) => return e.into(),
    }
    // Clients send `model` first: this look stops there.
    let first_model = first_top_level_value(&req.body, b"model");
    let (requested, metadata_tags, end_user) = match read_request(&mut ctx, snapshot, first_model) {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    // Only spend accounting reads the end user: no header scan without it.
    if gov.active {
        rec.end_user = req
            .header_str(&gov.end_user_header)
            .and_then(|u| crate::api::chat::end_user_id(u.trim()))
            .or(end_user);
    }
    rec.requested_model = requested.clone();
    rec.stream = ctx.stream;
    let facts = RequestFacts {
        model: &requested,
        tags: tags(req, metadata_tags),
        key,
        region: req
            .header_str("x-tollgate-region")
            .map(|r| r.trim().to_string()),
        complexity: complexity(snapshot, &req.body),
    };
    // Routing found the model, or says whether the config has it.
    let decision = match decide(snapshot, &facts) {
        Ok(d) => d,
        Err(e) => {
            rec.model_configured = snapshot.model(&requested).is_some();
            return e.into();
        }
    };
    rec.model_configured = true;
    if gov.active {
        rec.route_name = Some(decision.model.name.clone());
        match super::spend::admit(&ctx, gov, key, &decision, rec.end_user.as_deref()) {
            Ok(a) => *governed.admission = Some(a),
            // A limit with room held on another core (or not yet leased from
            // Redis) is asked again after the aggregator's next passes: a
            // short wait, never a refusal the limit did not mean. Boxed: the
            // rare wait's state stays out of every request's future.
            Err(refusal) if refusal.retry_soon => {
                let again = Box::pin(admit_after_passes(
                    &ctx,
                    gov,
                    key,
                    &decision,
                    rec.end_user.as_deref(),
                ));
                match again.await {
                    Ok(a) => *governed.admission = Some(a),
                    Err(refusal) => return Exit::Refused(refusal),
                }
            }
            Err(refusal) => return Exit::Refused(refusal),
        }
    }
    if !snapshot.stages.is_empty() {
        let team_policy = key
            .and_then(|k| gov.team_of(k))
            .and_then(|t| t.record.tool_policy.as_deref());
        if let Err(e) = run_stages(&mut ctx, snapshot, key, team_policy, &decision, rec) {
            return e.into();
        }
    }
    if let Some(guards) = snapshot.guards.as_ref()
        && !guards.external.is_empty()
    {
        let text = request_text(&ctx);
        if let Err(e) = super::guards::external_checks(guards, &text, &mut rec.guard).await {
            return e.into();
        }
    }
    let mut planned = plan(snapshot, &decision);
    if let Some(admission) = governed.admission.as_mut()
        && !gov.providers.is_empty()
    {
        // A provider endpoint whose own limit is spent is skipped, not sent
        // a request it would refuse with a 429.
        let before = planned.targets.len();
        super::spend::skip_spent_providers(admission, &mut planned);
        if planned.targets.is_empty() && before > 0 {
            return Exit::Refused(super::spend::providers_spent(&decision));
        }
    }
    let route_header = |trail: Option<(&Trail, &str)>| route_value(&decision, trail);
    let Some(first) = planned.targets.first().cloned() else {
        let why = decision
            .model
            .disabled_reason()
            .unwrap_or_else(|| planned.excluded.join("; "));
        let err = ApiError::coded(
            503,
            "service_unavailable_error",
            "no_healthy_deployment",
            format!(
                "No deployment can serve model `{}` now: {why}.",
                decision.model.name
            ),
        );
        return Exit::Error(
            err,
            vec![("x-tollgate-route", route_header(None).into_bytes())],
        );
    };
    if first.provider.kind == ProviderKind::Mock {
        let route = route_header(None);
        let headers: [(&str, &[u8]); 4] = [
            ("x-request-id", request_id.as_bytes()),
            ("x-tollgate-provider", first.provider.name.as_bytes()),
            ("x-tollgate-model", first.upstream_model.as_bytes()),
            ("x-tollgate-route", route.as_bytes()),
        ];
        rec.served = Some(first.clone());
        let spec = first.spec.as_deref();
        return match super::in_process::serve(&ctx, spec, &first.upstream_model, &headers, resp)
            .await
        {
            Ok(report) => Exit::Delivered(report),
            Err(e) => e.into(),
        };
    }
    // The in-process mock only ever serves as a first choice.
    let targets: Vec<_> = planned
        .targets
        .into_iter()
        .filter(|d| d.provider.kind != ProviderKind::Mock)
        .collect();
    let hedge = decision.model.hedge.as_ref();
    let outcome = engine::run(&ctx, snapshot, &targets, planned.panic, hedge, resp).await;
    match outcome {
        Outcome::Won(prepared, mut trail) => {
            let d = prepared.deployment.clone();
            rec.attempts = std::mem::take(&mut trail.log);
            rec.served = Some(d.clone());
            rec.ttfb_ms = Some(prepared.ttfb_ms);
            let route = route_header(Some((&trail, &d.label)));
            let mut headers: Vec<(&str, &[u8])> = vec![
                ("x-request-id", request_id.as_bytes()),
                ("x-tollgate-provider", d.provider.name.as_bytes()),
                ("x-tollgate-model", d.upstream_model.as_bytes()),
                ("x-tollgate-route", route.as_bytes()),
            ];
            if inbound == Inbound::Anthropic {
                // Where Anthropic's SDK reads the id (`_request_id`).
                headers.push(("request-id", request_id.as_bytes()));
            }
            if !ctx.guard_flags.is_empty() {
                headers.push(("x-tollgate-guard", ctx.guard_flags.as_bytes()));
            }
            let fit_headers = prepared
                .fit
                .as_ref()
                .map(|f| f.headers())
                .unwrap_or_default();
            headers.extend(fit_headers.iter().map(|(n, v)| (*n, v.as_slice())));
            // The summarize call is part of what this answer cost.
            if let Some((label, usage)) = prepared.fit.as_ref().and_then(|f| f.summary.clone()) {
                rec.attempts.push(engine::AttemptRecord {
                    deployment: label,
                    outcome: "summarize".into(),
                    ttfb_ms: None,
                    usage,
                    cost: None,
                });
            }
            // Betas mean nothing to a provider that is not sent them: named, not lost.
            if let Some(betas) = req.header("anthropic-beta").filter(|b| !b.is_empty())
                && inbound == Inbound::Anthropic
                && !adapter(d.provider.kind)
                    .client_headers
                    .contains(&"anthropic-beta")
            {
                headers.push(("x-tollgate-dropped-betas", betas));
            }
            Exit::Delivered(engine::deliver(prepared, &ctx, &headers, resp).await)
        }
        Outcome::Lost(failure, provider, mut trail) => {
            rec.attempts = std::mem::take(&mut trail.log);
            let route = route_header(Some((&trail, "none"))).into_bytes();
            // A same-dialect provider's error goes out as it came, with its
            // rate-limit headers; anything else in the client's shape.
            if let Some((status, upstream_headers, body)) = failure.raw_answer(inbound) {
                let mut headers = upstream_headers.to_vec();
                headers.push(("x-tollgate-route".into(), route));
                return Exit::Raw(status, headers, body.to_vec());
            }
            let mut extra = vec![("x-tollgate-route", route)];
            if let Some(ms) = engine::retry_after(&failure) {
                extra.push(("retry-after", ms.div_ceil(1000).to_string().into_bytes()));
            }
            Exit::Error(failure.to_api(&provider), extra)
        }
        Outcome::Abandoned => Exit::Abandoned,
    }
}

/// Admission asked again, up to three times, each after two aggregator passes.
async fn admit_after_passes(
    ctx: &RequestCtx<'_>,
    gov: &std::rc::Rc<crate::governance::state::CoreGov>,
    key: Option<&crate::router::ClientKey>,
    decision: &crate::router::decide::Decision,
    end_user: Option<&str>,
) -> Result<crate::governance::enforce::Admission, Box<crate::governance::enforce::Refusal>> {
    let pass =
        std::time::Duration::from_millis(ctx.snapshot.config.governance.aggregator_interval_ms);
    let mut tries = 0;
    loop {
        monoio::time::sleep(pass * 2).await;
        tries += 1;
        match super::spend::admit(ctx, gov, key, decision, end_user) {
            Err(refusal) if refusal.retry_soon && tries < 3 => continue,
            outcome => return outcome,
        }
    }
}

/// Runs the snapshot's policy stages over the canonical request — parsed
/// only when a stage needs it.
fn run_stages(
    ctx: &mut RequestCtx<'_>,
    snapshot: &Snapshot,
    key: Option<&crate::router::ClientKey>,
    team_policy: Option<&str>,
    decision: &crate::router::decide::Decision,
    rec: &mut DeliveryRecord,
) -> Result<(), ApiError> {
    let route = &decision.model.guards;
    if !snapshot.stages.iter().any(|s| s.needed(ctx.req, route)) {
        return Ok(());
    }
    if let Err(e) = ctx.canonical() {
        // A same-dialect body the canonical model cannot hold (an Anthropic
        // `document` block, say) goes upstream as it came: its text is
        // scanned as it stands, if nothing else needed the parse.
        return match snapshot.guards.as_ref() {
            Some(g) if ctx.inbound == Inbound::Anthropic && g.raw_scan_suffices(ctx.req, route) => {
                let mut flags = Vec::new();
                g.scan_raw(&ctx.req.body, &mut rec.guard, &mut flags)?;
                ctx.guard_flags = flags.join(" ");
                Ok(())
            }
            _ => Err(e),
        };
    }
    let mut canonical = ctx
        .canonical
        .take()
        .expect("parsed above")
        .expect("parsed without error above");
    let mut obligations = std::mem::take(&mut ctx.obligations);
    let mut flags = Vec::new();
    let mut stage_req = StageRequest {
        canonical: &mut canonical,
        http: ctx.req,
        key,
        team_policy,
        decision,
        obligations: &mut obligations,
        rewritten: false,
        events: &mut rec.guard,
        flags: &mut flags,
    };
    let mut outcome = Ok(());
    for stage in &snapshot.stages {
        if let Err(e) = stage.apply(&mut stage_req) {
            outcome = Err(e);
            break;
        }
    }
    let rewritten = stage_req.rewritten;
    ctx.obligations = obligations;
    ctx.rewritten |= rewritten;
    ctx.guard_flags = flags.join(" ");
    let _ = ctx.canonical.set(Ok(canonical));
    outcome
}

/// The request's user and tool text, for an external check.
fn request_text(ctx: &RequestCtx<'_>) -> String {
    let Ok(req) = ctx.canonical() else {
        return String::new();
    };
    let mut out = String::new();
    for m in &req.messages {
        let t = m.joined_text();
        if !t.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&t);
        }
    }
    out
}
