//! A shared source with a rule for its outages: serve a fair local share
//! (fail open) or refuse (fail closed), keep every spend made meanwhile,
//! and replay it to the shared store when it answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use rustc_hash::{FxHashMap, FxHashSet};

use super::bucket::BucketSpec;
use super::source::{Lease, LocalSource, Source, SourceDown};

/// What to do while the shared store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutagePolicy {
    /// Keep admitting, from a local bucket holding `share` of each limit
    /// (this instance's fair share, e.g. 1 / the number of instances).
    FailOpen { share: f64 },
    /// Refuse once what was leased before the outage is spent.
    FailClosed,
}

pub struct FailoverSource {
    primary: Box<dyn Source>,
    policy: OutagePolicy,
    fallback: LocalSource,
    /// How long to wait after a failure before asking the primary again.
    retry_ms: u64,
    /// When the primary may be asked again; `None` while it answers.
    next_probe_ms: Option<u64>,
    /// The latest `now_ms` a lease brought, to time a failure seen elsewhere.
    now_ms: u64,
    degraded: Arc<AtomicBool>,
    /// Spend made while the primary was down, netted per (bucket id, day):
    /// positive is charged on return, negative given back.
    owed: FxHashMap<(String, i64), i64>,
    /// The specs `owed` names, so the replay can describe each bucket.
    owed_specs: FxHashMap<String, BucketSpec>,
    /// The primary's last remaining per bucket: a fail-open fallback starts
    /// from its share of that, not from a full bucket.
    last_remaining: FxHashMap<String, i64>,
    /// Buckets whose fallback level was seeded in this outage.
    seeded: FxHashSet<String>,
    /// Instances sharing the limits, as last seen: a fail-open share is
    /// one over it, taken when an outage begins.
    instances: Option<Arc<std::sync::atomic::AtomicU64>>,
}

impl FailoverSource {
    pub fn new(primary: Box<dyn Source>, policy: OutagePolicy, retry_ms: u64) -> FailoverSource {
        let share = match policy {
            OutagePolicy::FailOpen { share } => share,
            OutagePolicy::FailClosed => 0.0,
        };
        FailoverSource {
            primary,
            policy,
            fallback: LocalSource::with_share(share),
            retry_ms,
            next_probe_ms: None,
            now_ms: 0,
            degraded: Arc::new(AtomicBool::new(false)),
            owed: FxHashMap::default(),
            owed_specs: FxHashMap::default(),
            last_remaining: FxHashMap::default(),
            seeded: FxHashSet::default(),
            instances: None,
        }
    }

    /// Fail-open shares follow this count of live instances (1 / count,
    /// read when an outage begins) instead of the fixed share.
    pub fn sharing_with(mut self, instances: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.instances = Some(instances);
        self
    }

    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Relaxed)
    }

    /// The degraded flag, for a metric to read after the source has moved
    /// into the aggregator's thread.
    pub fn degraded_flag(&self) -> Arc<AtomicBool> {
        self.degraded.clone()
    }

    /// Whether to ask the primary now: it is up, or a probe is due and what
    /// is owed was replayed (first, so the shared level counts the outage's
    /// spend before anything else).
    fn primary_ready(&mut self) -> bool {
        match self.next_probe_ms {
            None => true,
            Some(probe) if self.now_ms < probe => false,
            Some(_) => match self.replay() {
                Ok(()) => true,
                Err(SourceDown) => {
                    self.go_down(self.now_ms);
                    false
                }
            },
        }
    }

    fn recover(&mut self) {
        self.next_probe_ms = None;
        self.degraded.store(false, Relaxed);
    }

    fn go_down(&mut self, now_ms: u64) {
        if self.next_probe_ms.is_none() {
            self.seeded.clear();
            if let (OutagePolicy::FailOpen { .. }, Some(n)) = (self.policy, &self.instances) {
                self.fallback.set_share(1.0 / n.load(Relaxed).max(1) as f64);
            }
        }
        self.next_probe_ms = Some(now_ms.saturating_add(self.retry_ms));
        self.degraded.store(true, Relaxed);
    }

    fn owe(&mut self, spec: &BucketSpec, n: i64, day: i64) {
        if n == 0 {
            return;
        }
        let owed = self.owed.entry((spec.id.clone(), day)).or_insert(0);
        *owed = owed.saturating_add(n);
        if !self.owed_specs.contains_key(&spec.id) {
            self.owed_specs.insert(spec.id.clone(), spec.clone());
        }
    }

    /// Replays what is owed; stops at the first failure, keeping the rest.
    fn replay(&mut self) -> Result<(), SourceDown> {
        let mut owed: Vec<_> = self.owed.drain().collect();
        owed.sort();
        let mut result = Ok(());
        for ((id, day), n) in owed {
            let Some(spec) = self.owed_specs.get(&id) else {
                continue;
            };
            if result.is_ok() {
                result = match n {
                    n if n > 0 => self.primary.charge(spec, n, day),
                    n => self.primary.give_back(spec, n.saturating_neg(), day),
                };
                if result.is_ok() {
                    continue;
                }
            }
            self.owed.insert((id, day), n);
        }
        if self.owed.is_empty() {
            self.owed_specs.clear();
        }
        result
    }

    fn lease_degraded(
        &mut self,
        spec: &BucketSpec,
        want: i64,
        held: i64,
        now_ms: u64,
        day: i64,
    ) -> Result<Lease, SourceDown> {
        let OutagePolicy::FailOpen { share } = self.policy else {
            return Err(SourceDown);
        };
        if self.seeded.insert(spec.id.clone())
            && let Some(&rest) = self.last_remaining.get(&spec.id)
        {
            let level = (rest.max(0) as f64 * share).floor() as i64;
            self.fallback.seed(spec, level, now_ms, day);
        }
        let lease = self.fallback.lease(spec, want, held, now_ms, day)?;
        self.owe(spec, lease.granted, day);
        Ok(lease)
    }
}

impl Source for FailoverSource {
    fn is_local(&self) -> bool {
        false
    }

    fn begin_pass(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        // With spend to replay, the replay is the probe: it ends the outage
        // even when no bucket needs a lease.
        if !self.owed.is_empty() && self.next_probe_ms.is_some() && self.primary_ready() {
            self.recover();
        }
    }

    fn lease(
        &mut self,
        spec: &BucketSpec,
        want: i64,
        held: i64,
        now_ms: u64,
        day: i64,
    ) -> Result<Lease, SourceDown> {
        self.now_ms = now_ms;
        if self.primary_ready() {
            match self.primary.lease(spec, want, held, now_ms, day) {
                Ok(lease) => {
                    self.recover();
                    self.last_remaining.insert(spec.id.clone(), lease.remaining);
                    return Ok(lease);
                }
                Err(SourceDown) => self.go_down(now_ms),
            }
        }
        self.lease_degraded(spec, want, held, now_ms, day)
    }

    fn give_back(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        if self.primary_ready() {
            match self.primary.give_back(spec, n, day) {
                Ok(()) => {
                    self.recover();
                    return Ok(());
                }
                Err(SourceDown) => self.go_down(self.now_ms),
            }
        }
        self.fallback.give_back(spec, n, day)?;
        self.owe(spec, n.saturating_neg(), day);
        Ok(())
    }

    fn charge(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        if self.primary_ready() {
            match self.primary.charge(spec, n, day) {
                Ok(()) => {
                    self.recover();
                    return Ok(());
                }
                Err(SourceDown) => self.go_down(self.now_ms),
            }
        }
        self.fallback.charge(spec, n, day)?;
        self.owe(spec, n, day);
        Ok(())
    }

    fn forget(&mut self, id: &str) {
        self.primary.forget(id);
        self.fallback.forget(id);
        self.last_remaining.remove(id);
        self.seeded.remove(id);
    }
}
