//! One limit or budget as the request path sees it: a slot per core, the
//! process pool behind them, and the figures the aggregator last published.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use crossbeam::utils::CachePadded;

use super::aggregate::Aggregate;
use super::{CAS_ATTEMPTS, NEVER, refill_ms, slot_index};
use crate::governance::types::{Period, Priority};

/// How a bucket fills again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refill {
    /// Continuously, `capacity` per 60 s, never above `capacity`.
    PerMinute,
    /// Not at all; back to `capacity` when the UTC period changes (never for `Total`).
    Period(Period),
}

/// Fractions of capacity only higher classes may use: the last `critical`
/// fraction is critical-only, the `standard` fraction above it is closed to
/// batch. Both 0 by default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reserve {
    pub critical: f64,
    pub standard: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSpec {
    pub id: String,
    /// Requests, tokens or nano-USD.
    pub capacity: i64,
    pub refill: Refill,
    pub reserve: Reserve,
}

impl BucketSpec {
    /// The process-wide remaining a take of priority `p` may not go below.
    pub fn floor(&self, p: Priority) -> i64 {
        let fraction = |f: f64| {
            if f.is_finite() {
                f.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        let share = match p {
            Priority::Critical => return 0,
            Priority::Standard => fraction(self.reserve.critical),
            Priority::Batch => fraction(self.reserve.critical) + fraction(self.reserve.standard),
        };
        if share <= 0.0 {
            // No reserve (the usual case): no rounding on every pass.
            return 0;
        }
        ((self.capacity.max(0) as f64 * share.min(1.0)).round() as i64).min(self.capacity)
    }
}

/// What the `x-ratelimit-*` headers and key info report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub limit: i64,
    /// Estimate as of the aggregator's last pass; never negative.
    pub remaining: i64,
    /// Milliseconds until the bucket is full again (rate limits) or its
    /// period resets (budgets); [`NEVER`] for a total budget.
    pub reset_ms: u64,
}

/// A refused take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// When a retry may succeed; [`NEVER`] when it cannot (a total budget
    /// spent, or a take larger than what this priority may ever use).
    pub retry_after_ms: u64,
    /// The tokens exist, held by another core or instance or not yet
    /// leased: the aggregator's next pass may bring them here.
    pub elsewhere: bool,
    pub limit: i64,
    pub remaining: i64,
    pub reset_ms: u64,
    /// The shared limit store is unreachable and the source fails closed.
    pub unavailable: bool,
}

/// One core's share. Only its core takes from it and settles into it; the
/// aggregator may swap it to 0 to move its tokens back to the pool.
#[derive(Debug, Default)]
pub(super) struct Slot {
    pub(super) level: AtomicI64,
    /// Units refused for want of tokens, ever: the aggregator reads the
    /// difference as demand the pool could not meet.
    pub(super) refused: AtomicI64,
}

/// What the aggregator publishes each pass; read-mostly, so it sits on its
/// own cache line away from the pool that slow paths write.
#[derive(Debug)]
pub(super) struct Published {
    pub(super) remaining: AtomicI64,
    pub(super) reset_ms: AtomicU64,
    /// The pool level below which standard (index 0) and batch (index 1)
    /// takes are refused: their floor less what lies outside the process.
    pub(super) pool_floor: [AtomicI64; 2],
    /// Remaining allowance held by the source, outside this process.
    pub(super) outside: AtomicI64,
    /// The aggregator's interval: the soonest a refused take can change.
    pub(super) tick_ms: AtomicU64,
    pub(super) unavailable: AtomicBool,
    /// The largest take that reached the pool: a shared source's pool keeps
    /// at least room for it, so a quiet key's next request is not refused.
    pub(super) largest_take: AtomicI64,
}

pub struct Bucket {
    id: String,
    spec: ArcSwap<BucketSpec>,
    /// Bumped after each new spec is stored: the aggregator keeps the spec
    /// it last loaded and reloads only when this moved.
    spec_version: AtomicU64,
    pub(super) pool: CachePadded<AtomicI64>,
    pub(super) slots: Box<[CachePadded<Slot>]>,
    pub(super) published: CachePadded<Published>,
    /// The aggregator's own bookkeeping; never locked on the request path.
    aggregate: Mutex<Aggregate>,
    /// Brings the aggregator's next pass forward when a take is refused.
    wake: Arc<super::Wake>,
}

impl Bucket {
    pub(super) fn new(spec: BucketSpec, slots: usize, wake: Arc<super::Wake>) -> Bucket {
        let published = Published {
            remaining: AtomicI64::new(0),
            reset_ms: AtomicU64::new(0),
            pool_floor: [AtomicI64::new(0), AtomicI64::new(0)],
            outside: AtomicI64::new(0),
            tick_ms: AtomicU64::new(1),
            unavailable: AtomicBool::new(false),
            largest_take: AtomicI64::new(0),
        };
        let bucket = Bucket {
            id: spec.id.clone(),
            spec: ArcSwap::from_pointee(spec.clone()),
            spec_version: AtomicU64::new(0),
            pool: CachePadded::new(AtomicI64::new(0)),
            slots: (0..slots.max(1)).map(|_| CachePadded::default()).collect(),
            published: CachePadded::new(published),
            aggregate: Mutex::new(Aggregate::new(slots.max(1))),
            wake,
        };
        bucket.publish_floors(&spec);
        bucket
    }

    pub fn spec_id(&self) -> &str {
        &self.id
    }

    pub fn spec(&self) -> Arc<BucketSpec> {
        self.spec.load_full()
    }

    pub(super) fn update(&self, spec: BucketSpec) {
        self.publish_floors(&spec);
        self.spec.store(Arc::new(spec));
        self.spec_version
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// The spec and its version: a version read first and a spec at least
    /// that new.
    pub(super) fn spec_versioned(&self) -> (u64, Arc<BucketSpec>) {
        let version = self.spec_version.load(std::sync::atomic::Ordering::Acquire);
        (version, self.spec.load_full())
    }

    pub(super) fn spec_version(&self) -> u64 {
        self.spec_version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes `n` units for a request of priority `p`, or says why not and when
    /// to retry. Never blocks: one CAS on this core's slot, else one bounded
    /// CAS loop on the pool.
    pub fn try_take(&self, n: i64, p: Priority) -> Result<(), Denied> {
        if n <= 0 {
            return Ok(());
        }
        let floor = self.pool_floor(p);
        // Slot tokens were taken from the pool above some floor; once the pool
        // is below this class's floor, the headroom left belongs to higher classes.
        if floor > 0 && self.pool.load(Relaxed) < floor {
            return Err(self.denied(n, p));
        }
        let slot = &self.slots[slot_index(self.slots.len())];
        let mut level = slot.level.load(Relaxed);
        for _ in 0..CAS_ATTEMPTS {
            if level < n {
                break;
            }
            match slot
                .level
                .compare_exchange_weak(level, level - n, Relaxed, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => level = now,
            }
        }
        if n > self.published.largest_take.load(Relaxed) {
            self.published.largest_take.fetch_max(n, Relaxed);
        }
        self.take_from_pool(slot, n, floor, p)
    }

    /// The slot is short: what it holds (or owes) plus the pool pay for the
    /// take, and the slot is refilled with a share of the pool's spare
    /// tokens — a share that shrinks as the pool empties, so the last tokens
    /// are not stranded on one core.
    fn take_from_pool(&self, slot: &Slot, n: i64, floor: i64, p: Priority) -> Result<(), Denied> {
        let held = slot.level.swap(0, Relaxed);
        let need = n.saturating_sub(held);
        let spread = 4 * self.slots.len() as i64;
        let mut pool = self.pool.load(Relaxed);
        for _ in 0..CAS_ATTEMPTS {
            let spare = pool.saturating_sub(floor).saturating_sub(need);
            if spare < 0 {
                break;
            }
            let extra = spare / spread;
            match self
                .pool
                .compare_exchange_weak(pool, pool - need - extra, Relaxed, Relaxed)
            {
                Ok(_) => {
                    if extra != 0 {
                        slot.level.fetch_add(extra, Relaxed);
                    }
                    return Ok(());
                }
                Err(now) => pool = now,
            }
        }
        add(&slot.level, held);
        if pool < need {
            slot.refused.fetch_add(n, Relaxed);
        }
        Err(self.denied(n, p))
    }

    /// Corrects a reservation on this core's slot: `delta > 0` gives back,
    /// `delta < 0` takes more. The slot may go negative: a debt the pool
    /// repays before anyone is admitted from it again.
    pub fn settle(&self, delta: i64) {
        add(&self.slots[slot_index(self.slots.len())].level, delta);
    }

    /// Charges `n` with no admission check: spend made elsewhere, or the
    /// period's spend so far when the bucket is first defined.
    pub fn charge(&self, n: i64) {
        add(
            &self.slots[slot_index(self.slots.len())].level,
            n.saturating_neg(),
        );
    }

    pub fn status(&self) -> Status {
        let capacity = self.spec.load().capacity;
        Status {
            limit: capacity,
            remaining: self
                .published
                .remaining
                .load(Relaxed)
                .clamp(0, capacity.max(0)),
            reset_ms: self.published.reset_ms.load(Relaxed),
        }
    }

    fn pool_floor(&self, p: Priority) -> i64 {
        match p {
            Priority::Critical => 0,
            Priority::Standard => self.published.pool_floor[0].load(Relaxed),
            Priority::Batch => self.published.pool_floor[1].load(Relaxed),
        }
    }

    /// The floors in pool terms: the reserve may partly lie outside the
    /// process (in the source), and the pool never lends below zero.
    pub(super) fn publish_floors(&self, spec: &BucketSpec) {
        let outside = self.published.outside.load(Relaxed).max(0);
        for (i, p) in [Priority::Standard, Priority::Batch]
            .into_iter()
            .enumerate()
        {
            let floor = spec.floor(p).saturating_sub(outside).max(0);
            self.published.pool_floor[i].store(floor, Relaxed);
        }
    }

    fn denied(&self, n: i64, p: Priority) -> Denied {
        // The tokens may be on another core or still at the source: the
        // next pass moves them, so it should not wait out a long interval.
        self.wake.nudge();
        let spec = self.spec.load();
        let status = self.status();
        let floor = spec.floor(p);
        let tick_ms = self.published.tick_ms.load(Relaxed).max(1);
        // Against the unclamped estimate: a debt lengthens the wait.
        let remaining = self.published.remaining.load(Relaxed);
        let deficit = n.saturating_add(floor).saturating_sub(remaining);
        let retry_after_ms = if n.saturating_add(floor) > spec.capacity {
            NEVER
        } else if deficit <= 0 {
            // The tokens exist but not here yet: another core or instance
            // holds them, or the next lease brings them.
            tick_ms
        } else {
            match spec.refill {
                Refill::PerMinute => refill_ms(deficit, spec.capacity).max(tick_ms),
                Refill::Period(_) => status.reset_ms,
            }
        };
        Denied {
            retry_after_ms,
            elsewhere: deficit <= 0 && n.saturating_add(floor) <= spec.capacity,
            limit: status.limit,
            remaining: status.remaining,
            reset_ms: status.reset_ms,
            unavailable: self.published.unavailable.load(Relaxed),
        }
    }

    /// Everything this process holds: the pool and every slot. An estimate
    /// while cores run (it is not one snapshot), exact when they are still.
    pub(super) fn held(&self) -> i64 {
        self.slots.iter().fold(self.pool.load(Relaxed), |sum, s| {
            sum.saturating_add(s.level.load(Relaxed))
        })
    }

    /// Moves every slot and the pool out of the process (to be given back).
    pub(super) fn take_all(&self) -> i64 {
        self.slots
            .iter()
            .fold(self.pool.swap(0, Relaxed), |sum, s| {
                sum.saturating_add(s.level.swap(0, Relaxed))
            })
    }

    pub(super) fn lock_aggregate(&self) -> MutexGuard<'_, Aggregate> {
        self.aggregate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Adds `delta` to a level, saturating rather than wrapping: a usage figure
/// from a broken upstream must not turn a debt into credit. The loop only
/// retries when the aggregator swapped the cell in between, so it ends at
/// once in practice; past the bound, a plain add is still conserving.
pub(super) fn add(cell: &AtomicI64, delta: i64) {
    if delta == 0 {
        return;
    }
    let mut cur = cell.load(Relaxed);
    for _ in 0..CAS_ATTEMPTS {
        match cell.compare_exchange_weak(cur, cur.saturating_add(delta), Relaxed, Relaxed) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
    cell.fetch_add(delta, Relaxed);
}
