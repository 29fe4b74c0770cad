//! The circuit breaker for one (provider, upstream model) on one core:
//! closed while the error rate in its sliding window stays low, open for a
//! cool-down once it does not, then half-open to let a few probes decide.

#[cfg(test)]
mod tests;
mod window;

use window::BreakerWindow;

/// Breaker tuning; replaced on config reload without losing state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerParams {
    /// Length of the sliding window the error rate is measured over.
    pub window_ms: u64,
    /// failures / total at or above which the breaker opens, in [0, 1].
    pub error_rate: f64,
    /// Fewer outcomes than this in the window never open the breaker.
    pub min_requests: u32,
    /// How long the breaker stays open before probing.
    pub open_ms: u64,
    /// Probes allowed in flight at once when half-open, and successes needed to close.
    pub half_open_probes: u32,
}

/// The answer to "may this request go to this upstream?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// A half-open trial: its outcome must be recorded with `probe = true`,
    /// or the slot given back with `release_probe`.
    Probe,
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until_ms: u64 },
    HalfOpen,
}

/// Phase as stored; `Open` past its deadline is reported as `HalfOpen`
/// without a write, so read-only checks see the same thing `try_acquire` would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until_ms: u64 },
    HalfOpen { in_flight: u32, successes: u32 },
}

/// A circuit breaker; one per (provider, upstream model) per core, so it is
/// plain `&mut` state with no atomics.
///
/// Each attempt (and each hedge leg) calls `try_acquire` once and then
/// exactly one of: `record(.., probe: false)` after `Allowed`,
/// `record(.., probe: true)` or `release_probe` after `Probe`, nothing after
/// `Rejected`. Probe outcomes carry no ticket, so a probe from an earlier
/// half-open period that answers only after the breaker reopened and
/// half-opened again is counted as one of the new period's probes.
#[derive(Clone, Debug)]
pub struct Breaker {
    params: BreakerParams,
    phase: Phase,
    window: BreakerWindow,
}

impl Breaker {
    pub fn new(params: BreakerParams) -> Self {
        Self {
            params,
            phase: Phase::Closed,
            window: BreakerWindow::new(params.window_ms),
        }
    }

    /// Config reload: new tuning, same state. An open breaker keeps its
    /// deadline, probes in flight keep their slots, and the window keeps the
    /// outcomes that still fit in the new length.
    pub fn set_params(&mut self, params: BreakerParams) {
        if params.window_ms != self.params.window_ms {
            self.window.resize(params.window_ms);
        }
        self.params = params;
    }

    /// Non-mutating check for selection: would a request be admitted now?
    pub fn is_available(&self, now_ms: u64) -> bool {
        match self.phase_at(now_ms) {
            Phase::Closed => true,
            Phase::Open { .. } => false,
            Phase::HalfOpen { in_flight, .. } => in_flight < self.probe_slots(),
        }
    }

    /// Admit a request (Probe = a half-open trial; its outcome decides).
    pub fn try_acquire(&mut self, now_ms: u64) -> Admission {
        self.phase = self.phase_at(now_ms);
        match &mut self.phase {
            Phase::Closed => Admission::Allowed,
            Phase::Open { .. } => Admission::Rejected,
            Phase::HalfOpen { in_flight, .. } => {
                if *in_flight < self.params.half_open_probes.max(1) {
                    *in_flight += 1;
                    Admission::Probe
                } else {
                    Admission::Rejected
                }
            }
        }
    }

    /// Admits a request that `try_acquire` would refuse, because no other
    /// upstream is left to serve it (a panic threshold): an open breaker goes
    /// half-open early and this request is its probe. With every probe slot
    /// taken it is let through as an ordinary request, whose outcome is
    /// dropped like any other outcome recorded while not closed.
    pub fn admit_anyway(&mut self, now_ms: u64) -> Admission {
        match self.try_acquire(now_ms) {
            Admission::Rejected if matches!(self.phase, Phase::Open { .. }) => {
                self.phase = Phase::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                };
                Admission::Probe
            }
            Admission::Rejected => Admission::Allowed,
            admitted => admitted,
        }
    }

    /// Outcome of an admitted request. `probe` = it was admitted as Probe.
    ///
    /// Outcomes of ordinary requests that finish after the breaker left
    /// `Closed` are dropped: they describe the upstream before the trip and
    /// must not stand in for the probes' verdict.
    pub fn record(&mut self, now_ms: u64, success: bool, probe: bool) {
        self.phase = self.phase_at(now_ms);
        match (self.phase, probe) {
            (Phase::Closed, _) => {
                // A late probe that finishes after its siblings closed the
                // breaker is still a real outcome of this upstream.
                self.window.record(now_ms, success);
                self.trip_if_failing(now_ms);
            }
            (Phase::HalfOpen { .. }, true) if !success => self.open(now_ms),
            (Phase::HalfOpen { successes, .. }, true) if successes + 1 >= self.probe_slots() => {
                self.phase = Phase::Closed;
                self.window.clear();
            }
            (
                Phase::HalfOpen {
                    in_flight,
                    successes,
                },
                true,
            ) => {
                self.phase = Phase::HalfOpen {
                    in_flight: in_flight.saturating_sub(1),
                    successes: successes + 1,
                };
            }
            (Phase::HalfOpen { .. }, false) | (Phase::Open { .. }, _) => {}
        }
    }

    /// A probe admitted but abandoned without an outcome (e.g. a cancelled hedge): frees its slot.
    pub fn release_probe(&mut self) {
        if let Phase::HalfOpen { in_flight, .. } = &mut self.phase {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    pub fn state(&self, now_ms: u64) -> BreakerState {
        match self.phase_at(now_ms) {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until_ms } => BreakerState::Open { until_ms },
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// `(successes, failures)` within the window. Only outcomes recorded
    /// while closed are counted; the window is cleared when probes close it.
    pub fn counts(&self, now_ms: u64) -> (u32, u32) {
        self.window.counts(now_ms)
    }

    fn phase_at(&self, now_ms: u64) -> Phase {
        match self.phase {
            Phase::Open { until_ms } if now_ms >= until_ms => Phase::HalfOpen {
                in_flight: 0,
                successes: 0,
            },
            phase => phase,
        }
    }

    /// Zero probes would leave a breaker half-open forever; one is the floor.
    fn probe_slots(&self) -> u32 {
        self.params.half_open_probes.max(1)
    }

    /// Checked on every outcome, successes included: reaching
    /// `min_requests` with a success can be what puts a failing upstream
    /// over the threshold.
    fn trip_if_failing(&mut self, now_ms: u64) {
        let (successes, failures) = self.window.counts(now_ms);
        let total = successes.saturating_add(failures);
        // No failures never opens, even with `error_rate` set to 0.
        if failures == 0 || total < self.params.min_requests {
            return;
        }
        if f64::from(failures) / f64::from(total) >= self.params.error_rate {
            self.open(now_ms);
        }
    }

    fn open(&mut self, now_ms: u64) {
        self.phase = Phase::Open {
            until_ms: now_ms.saturating_add(self.params.open_ms),
        };
    }
}
