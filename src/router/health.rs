//! Per-core deployment health: a circuit breaker and latency statistics per
//! (provider, upstream model), plus each provider's key rotation cursor.
//! Each core keeps its own; nothing here is shared or locked. State survives
//! reloads, keyed by name.

use std::cell::RefCell;
use std::collections::HashMap;

use super::{Deployment, Provider, Snapshot};
use crate::gateway::Failure;
use crate::resilience::{
    Admission, Breaker, BreakerParams, BreakerState, Clock, FastRng, LatencyStats, MonotonicClock,
};

struct Health {
    breaker: Breaker,
    latency: LatencyStats,
}

#[derive(Default)]
struct CoreHealth {
    generation: u64,
    /// Deployment index → slot in `slots` (deployments sharing provider and
    /// upstream model share a slot).
    slot_of: Vec<usize>,
    slots: Vec<Health>,
    keys: Vec<(String, String)>,
    enabled: bool,
    key_cursor: HashMap<String, usize>,
    rng: Option<FastRng>,
}

thread_local! {
    static CORE: RefCell<CoreHealth> = RefCell::new(CoreHealth::default());
}

fn now() -> u64 {
    MonotonicClock.now_ms()
}

fn params(s: &Snapshot) -> BreakerParams {
    let b = &s.config.routing.breaker;
    BreakerParams {
        window_ms: b.window_ms,
        error_rate: b.error_rate,
        min_requests: b.min_requests,
        open_ms: b.open_ms,
        half_open_probes: b.half_open_probes,
    }
}

/// Lines this core's slots up with `snapshot` (cheap when nothing changed).
pub fn sync(snapshot: &Snapshot) {
    CORE.with(|core| {
        let mut guard = core.borrow_mut();
        let core = &mut *guard;
        if core.generation == snapshot.generation
            && core.slot_of.len() == snapshot.deployments.len()
        {
            return;
        }
        let p = params(snapshot);
        let mut old: HashMap<(String, String), Health> =
            core.keys.drain(..).zip(core.slots.drain(..)).collect();
        let mut slot_of = Vec::with_capacity(snapshot.deployments.len());
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut slots = Vec::new();
        for d in &snapshot.deployments {
            let key = d.health_key();
            let slot = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    let mut h = old.remove(&key).unwrap_or_else(|| Health {
                        breaker: Breaker::new(p),
                        latency: LatencyStats::new(),
                    });
                    h.breaker.set_params(p);
                    keys.push(key);
                    slots.push(h);
                    slots.len() - 1
                }
            };
            slot_of.push(slot);
        }
        core.generation = snapshot.generation;
        core.slot_of = slot_of;
        core.slots = slots;
        core.keys = keys;
        core.enabled = snapshot.config.routing.breaker.enabled;
    })
}

fn with<R>(d: &Deployment, f: impl FnOnce(&mut Health, bool) -> R) -> Option<R> {
    CORE.with(|core| {
        let mut core = core.borrow_mut();
        let enabled = core.enabled;
        let slot = *core.slot_of.get(d.index)?;
        core.slots.get_mut(slot).map(|h| f(h, enabled))
    })
}

/// Whether selection may pick this deployment now.
pub fn available(d: &Deployment) -> bool {
    with(d, |h, enabled| !enabled || h.breaker.is_available(now())).unwrap_or(true)
}

pub fn admit(d: &Deployment) -> Admission {
    with(d, |h, enabled| {
        if enabled {
            h.breaker.try_acquire(now())
        } else {
            Admission::Allowed
        }
    })
    .unwrap_or(Admission::Allowed)
}

/// Admits a request to a deployment whose breaker refuses it, because every
/// candidate of the request is open: a probe when a probe slot can be had.
pub fn admit_anyway(d: &Deployment) -> Admission {
    with(d, |h, _| h.breaker.admit_anyway(now())).unwrap_or(Admission::Allowed)
}

/// When an open breaker goes half-open (`None` when it is not open).
pub fn reopens_at(d: &Deployment) -> Option<u64> {
    with(d, |h, _| match h.breaker.state(now()) {
        BreakerState::Open { until_ms } => Some(until_ms),
        _ => None,
    })
    .flatten()
}

pub fn record_success(d: &Deployment, probe: bool, ttfb_ms: u64, ttft_ms: u64) {
    with(d, |h, _| {
        let t = now();
        h.breaker.record(t, true, probe);
        h.latency.observe_ttfb(t, ttfb_ms);
        h.latency.observe_ttft(ttft_ms);
    });
}

/// Counts a failure against the deployment, unless it was the client's fault.
pub fn record_failure(d: &Deployment, probe: bool, failure: &Failure) {
    let counts = match failure {
        Failure::Transport(_) => true,
        Failure::Status { status, .. } => *status == 429 || *status >= 500 || *status == 408,
        Failure::Invalid(_) => false,
    };
    with(d, |h, _| {
        if counts {
            h.breaker.record(now(), false, probe);
        } else if probe {
            h.breaker.release_probe();
        }
    });
}

/// An answer that broke after the commit point (cut, stalled, unreadable):
/// a failure for the breaker, and no latency sample — a fast answer that
/// never arrives whole must not make the deployment look fast.
pub fn record_broken(d: &Deployment, probe: bool) {
    with(d, |h, _| h.breaker.record(now(), false, probe));
}

/// An attempt dropped without an outcome (hedge loser, client gone).
pub fn abandon(d: &Deployment, probe: bool) {
    if probe {
        with(d, |h, _| h.breaker.release_probe());
    }
}

pub fn p95_ttft_ms(d: &Deployment) -> Option<u64> {
    with(d, |h, _| h.latency.p95_ttft_ms()).flatten()
}

pub fn ewma_ttfb_ms(d: &Deployment) -> Option<f64> {
    with(d, |h, _| h.latency.ewma_ttfb_ms()).flatten()
}

/// Which of the provider's keys this core uses first.
pub fn key_index(p: &Provider) -> usize {
    CORE.with(|c| c.borrow().key_cursor.get(&p.name).copied().unwrap_or(0))
}

/// Moves this core's cursor to the provider's next key.
pub fn rotate_key(p: &Provider) {
    CORE.with(|c| *c.borrow_mut().key_cursor.entry(p.name.clone()).or_insert(0) += 1);
}

pub fn random_u64() -> u64 {
    CORE.with(|c| {
        c.borrow_mut()
            .rng
            .get_or_insert_with(FastRng::from_entropy)
            .next_u64()
    })
}

pub fn random_unit() -> f64 {
    CORE.with(|c| {
        c.borrow_mut()
            .rng
            .get_or_insert_with(FastRng::from_entropy)
            .unit()
    })
}

/// This core's breaker states, for metrics: (provider, model, state, successes, failures).
pub fn breaker_report() -> Vec<(String, String, BreakerState, u32, u32)> {
    CORE.with(|core| {
        let core = core.borrow();
        let t = now();
        core.keys
            .iter()
            .zip(&core.slots)
            .map(|((p, m), h)| {
                let (ok, bad) = h.breaker.counts(t);
                (p.clone(), m.clone(), h.breaker.state(t), ok, bad)
            })
            .collect()
    })
}
