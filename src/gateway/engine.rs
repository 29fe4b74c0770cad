//! The attempt loop: walk the planned deployments with retries, backoff,
//! key rotation and fallbacks, optionally racing a hedge, until one reaches
//! the commit point (first output) — then deliver it. Nothing is sent to the
//! client before that point, so every failure before it is recoverable.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::attempt::{Failure, Next, Prepared, RequestCtx};
use super::translated::Report;
use crate::config::HedgeConfig;
use crate::resilience::{Admission, RetryWait, retry_wait};
use crate::router::{Deployment, Snapshot, health};
use crate::server::Responder;

type AttemptFuture<'a, W> = Pin<Box<dyn Future<Output = Result<W, Failure>> + 'a>>;

#[path = "engine_seams.rs"]
mod seams;
pub use seams::{Attempts, Committed, Live, MonoioTimer, Timer};

/// How the winning attempt came about, for `x-tollgate-route`.
#[derive(Debug, Default)]
pub struct Trail {
    pub attempts: u32,
    /// Each finished or cancelled attempt, in order, for the delivery record.
    pub log: Vec<AttemptRecord>,
    pub hedged: bool,
    pub waited_ms: u64,
    pub failures: Vec<String>,
}

/// One attempt as the delivery record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// `provider/upstream_model`.
    pub deployment: String,
    /// `ok`, `cancelled`, or the failure's short name (`500`, `connect`…).
    pub outcome: String,
    pub ttfb_ms: Option<u64>,
    /// What the attempt's answer says it cost, when it was read: the
    /// served attempt's once its delivery ends; an attempt that failed or
    /// was cancelled before its answer has none.
    pub usage: Option<crate::canonical::Usage>,
    /// `usage` as the answer was priced, when it was (see `Report::cost`).
    pub cost: Option<crate::governance::cost::Cost>,
}

impl AttemptRecord {
    fn new(d: &Deployment, outcome: impl Into<String>, ttfb_ms: Option<u64>) -> Self {
        AttemptRecord {
            deployment: String::from(&*d.label),
            outcome: outcome.into(),
            ttfb_ms,
            usage: None,
            cost: None,
        }
    }
}

// Lives on the stack for one request; boxing the winner would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Outcome<W = Prepared> {
    Won(W, Trail),
    /// Everything failed; the last failure is the client's answer.
    Lost(Failure, String, Trail),
    /// The client left before any answer.
    Abandoned,
}

struct InFlight<'a, W> {
    target: usize,
    probe: bool,
    future: AttemptFuture<'a, W>,
}

/// How a committed answer's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Complete,
    /// The upstream failed after the commit point (cut, stalled, unreadable).
    UpstreamFailed,
    /// The client left before the end: nothing is learnt about the upstream.
    ClientGone,
}

/// Tries `targets` in order until one produces output. `panic`: the plan
/// holds a breaker-open deployment tried only because nothing else was left.
pub async fn run(
    ctx: &RequestCtx<'_>,
    snapshot: &Snapshot,
    targets: &[Arc<Deployment>],
    panic: bool,
    hedge: Option<&HedgeConfig>,
    resp: &Responder<'_>,
) -> Outcome {
    let live = Live { ctx, resp };
    run_with(&live, &MonoioTimer, snapshot, targets, panic, hedge).await
}

/// `run` with its attempts and its time supplied by the caller.
pub async fn run_with<'a, A: Attempts>(
    attempts: &'a A,
    timer: &impl Timer,
    snapshot: &Snapshot,
    targets: &[Arc<Deployment>],
    panic: bool,
    hedge: Option<&HedgeConfig>,
) -> Outcome<A::Won> {
    let retry = &snapshot.config.routing.retry;
    let mut trail = Trail::default();
    let mut in_flight: Vec<InFlight<'a, A::Won>> = Vec::new();
    let mut next_target = 0usize;
    // Per target: the key it was last tried with, and how many keys so far.
    let mut key_used: Vec<(usize, usize)> = vec![(0, 0); targets.len()];
    let mut skip_model: Option<String> = None;
    let mut last: Option<(Failure, Arc<Deployment>)>;
    let mut hedges_left = hedge.map_or(0, |h| h.max_extra);

    let launch = |i: usize,
                  rotate: bool,
                  key_used: &mut Vec<(usize, usize)>,
                  in_flight: &mut Vec<InFlight<'a, A::Won>>,
                  trail: &mut Trail| {
        let d = targets[i].clone();
        let admission = match health::admit(&d) {
            Admission::Rejected if panic => health::admit_anyway(&d),
            admitted => admitted,
        };
        let probe = admission == Admission::Probe;
        let key = if rotate {
            key_used[i].0 + 1
        } else {
            health::key_index(&d.provider)
        };
        key_used[i] = (key, if rotate { key_used[i].1 + 1 } else { 1 });
        trail.attempts += 1;
        in_flight.push(InFlight {
            target: i,
            probe,
            future: Box::pin(attempts.attempt(d, key)),
        });
    };

    launch(0, false, &mut key_used, &mut in_flight, &mut trail);
    next_target = next_target.max(1);
    loop {
        let hedge_after = match (hedge, in_flight.len(), targets.get(next_target)) {
            (Some(h), 1, Some(_)) if hedges_left > 0 => {
                Some(hedge_delay(h, &targets[in_flight[0].target]))
            }
            _ => None,
        };
        #[allow(clippy::large_enum_variant)]
        enum Event<'a, W> {
            Done(InFlight<'a, W>, Result<W, Failure>),
            HedgeDue,
            ClientGone,
        }
        let event = monoio::select! {
            (f, r) = next_ready(&mut in_flight) => Event::Done(f, r),
            _ = timer.sleep(hedge_after.unwrap_or(Duration::from_secs(3600))), if hedge_after.is_some() => Event::HedgeDue,
            _ = attempts.client_gone() => Event::ClientGone,
        };
        let (finished, result) = match event {
            Event::Done(f, r) => (f, r),
            Event::HedgeDue => {
                // No output yet from the first attempt: race the next deployment.
                hedges_left -= 1;
                trail.hedged = true;
                launch(
                    next_target,
                    false,
                    &mut key_used,
                    &mut in_flight,
                    &mut trail,
                );
                next_target += 1;
                continue;
            }
            Event::ClientGone => {
                for f in in_flight.drain(..) {
                    health::abandon(&targets[f.target], f.probe);
                }
                return Outcome::Abandoned;
            }
        };
        let d = targets[finished.target].clone();
        match result {
            Ok(mut prepared) => {
                // The breaker hears of it when delivery ends (`deliver`).
                prepared.set_probe(finished.probe);
                trail
                    .log
                    .push(AttemptRecord::new(&d, "ok", Some(prepared.ttfb_ms())));
                // The losers are cancelled now: dropping them closes their connections.
                for f in in_flight.drain(..) {
                    health::abandon(&targets[f.target], f.probe);
                    trail
                        .log
                        .push(AttemptRecord::new(&targets[f.target], "cancelled", None));
                }
                return Outcome::Won(prepared, trail);
            }
            Err(failure) => {
                health::record_failure(&d, finished.probe, &failure);
                trail
                    .log
                    .push(AttemptRecord::new(&d, short(&failure), None));
                trail.failures.push(format!(
                    "{}/{}: {}",
                    d.provider.name,
                    d.upstream_model,
                    short(&failure)
                ));
                let next = failure.next();
                if next == Next::Final {
                    for f in in_flight.drain(..) {
                        health::abandon(&targets[f.target], f.probe);
                    }
                    return Outcome::Lost(failure, d.provider.name.clone(), trail);
                }
                if next == Next::OtherModel {
                    skip_model = Some(d.upstream_model.clone());
                }
                let rotate = next == Next::RotateKey
                    && d.provider.api_keys.len() > 1
                    && key_used[finished.target].1 < d.provider.api_keys.len();
                if rotate {
                    health::rotate_key(&d.provider);
                }
                last = Some((failure, d));
                if !in_flight.is_empty() {
                    continue; // a hedge is still running: let it finish
                }
                if trail.attempts >= retry.max_attempts {
                    break;
                }
                let target = if rotate {
                    finished.target
                } else {
                    match pick_next(targets, &mut next_target, skip_model.as_deref()) {
                        Some(t) => t,
                        None => break,
                    }
                };
                // Back off before going again at the same deployment; moving on
                // to another one needs no wait.
                if target == finished.target && !rotate {
                    let (failure, _) = last.as_ref().expect("just set");
                    let unit = health::random_unit();
                    match retry_wait(
                        trail.attempts - 1,
                        retry.base_backoff_ms,
                        retry.max_backoff_ms,
                        retry.max_retry_after_ms,
                        retry_after(failure),
                        unit,
                    ) {
                        // The whole request never waits longer than one long Retry-After.
                        RetryWait::After(ms) if trail.waited_ms + ms > retry.max_retry_after_ms => {
                            break;
                        }
                        RetryWait::After(ms) => {
                            trail.waited_ms += ms;
                            monoio::select! {
                                _ = timer.sleep(Duration::from_millis(ms)) => {},
                                _ = attempts.client_closed() => return Outcome::Abandoned,
                            }
                        }
                        RetryWait::TooLong => break,
                    }
                }
                launch(target, rotate, &mut key_used, &mut in_flight, &mut trail);
            }
        }
    }
    let (failure, d) = last.expect("the loop ends only after a failure");
    Outcome::Lost(failure, d.provider.name.clone(), trail)
}

/// Delivers a committed answer — relayed as it came, or translated — and
/// then records how it went for the deployment's breaker and latency stats.
pub async fn deliver(
    prepared: Prepared,
    ctx: &RequestCtx<'_>,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Report {
    let d = prepared.deployment.clone();
    let (probe, ttfb_ms, ttft_ms) = (prepared.probe, prepared.ttfb_ms, prepared.ttft_ms);
    let report = if ctx.is_native(d.provider.kind) {
        super::relay::relay(prepared, ctx, headers, resp).await
    } else {
        super::translated::deliver(prepared, ctx, headers, resp).await
    };
    match report.delivered {
        Delivered::Complete => health::record_success(&d, probe, ttfb_ms, ttft_ms),
        Delivered::UpstreamFailed => health::record_broken(&d, probe),
        Delivered::ClientGone => health::abandon(&d, probe),
    }
    report
}

/// The next target to try: the next in plan order (skipping a model that
/// cannot take the request), wrapping around for further retries.
fn pick_next(
    targets: &[Arc<Deployment>],
    next: &mut usize,
    skip_model: Option<&str>,
) -> Option<usize> {
    let n = targets.len();
    for _ in 0..n {
        let i = *next % n;
        *next += 1;
        if skip_model != Some(targets[i].upstream_model.as_str()) {
            return Some(i);
        }
    }
    None
}

fn hedge_delay(h: &HedgeConfig, first: &Deployment) -> Duration {
    let ms = h
        .after_ms
        .or_else(|| health::p95_ttft_ms(first))
        .unwrap_or(1000)
        .max(h.min_after_ms);
    Duration::from_millis(ms)
}

pub(super) fn retry_after(f: &Failure) -> Option<u64> {
    match f {
        Failure::Status { retry_after_ms, .. } => *retry_after_ms,
        _ => None,
    }
}

fn short(f: &Failure) -> String {
    match f {
        Failure::Status { status, .. } => status.to_string(),
        Failure::Transport(e) => match e {
            crate::upstream::UpstreamError::Connect(_) => "connect".into(),
            crate::upstream::UpstreamError::FirstByteTimeout => "first-byte-timeout".into(),
            crate::upstream::UpstreamError::FirstTokenTimeout => "first-token-timeout".into(),
            crate::upstream::UpstreamError::TotalTimeout => "timeout".into(),
            crate::upstream::UpstreamError::Stalled => "stalled".into(),
            _ => "connection".into(),
        },
        Failure::Invalid(_) => "unsupported".into(),
    }
}

/// Waits for whichever in-flight attempt finishes first and removes it.
async fn next_ready<'a, W>(
    set: &mut Vec<InFlight<'a, W>>,
) -> (InFlight<'a, W>, Result<W, Failure>) {
    std::future::poll_fn(|cx| {
        for i in 0..set.len() {
            if let Poll::Ready(r) = set[i].future.as_mut().poll(cx) {
                let done = set.swap_remove(i);
                return Poll::Ready((done, r));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
