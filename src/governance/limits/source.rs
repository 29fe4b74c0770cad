//! Where a bucket's allowance comes from: the `Source` seam the aggregator
//! leases through, and `LocalSource`, the in-process token bucket behind it
//! when one gateway holds the whole limit.

use rustc_hash::FxHashMap;

use super::MINUTE_MS;
use super::bucket::{BucketSpec, Refill};

/// The shared limit store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shared limit store is unreachable")]
pub struct SourceDown;

/// What a lease brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub granted: i64,
    /// The source's level after the grant: allowance not yet in any process.
    pub remaining: i64,
}

/// The aggregator's view of a bucket's shared allowance. Called only from
/// the aggregator's thread, never on a request's path.
pub trait Source: Send {
    /// A local source holds the whole limit, so the aggregator may move all
    /// of it into the pool each pass; a remote one is leased in small batches.
    fn is_local(&self) -> bool;

    /// An aggregator pass starts at `now_ms`, before any other call in it.
    fn begin_pass(&mut self, _now_ms: u64) {}

    /// Takes up to `want` of the bucket's allowance (0 when spent). `held`
    /// is what this process holds now, so a refilling source can keep the
    /// process's total within capacity.
    fn lease(
        &mut self,
        spec: &BucketSpec,
        want: i64,
        held: i64,
        now_ms: u64,
        day: i64,
    ) -> Result<Lease, SourceDown>;

    /// Returns `n` unused units leased earlier.
    fn give_back(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown>;

    /// Charges `n` beyond what was leased (a settle that went into debt, a `charge`).
    fn charge(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown>;

    /// The bucket was retired: drop what is kept for it.
    fn forget(&mut self, _id: &str) {}
}

/// One bucket's level in a `LocalSource`.
#[derive(Debug, Clone)]
struct Level {
    refill: Refill,
    /// The capacity the level was last counted against.
    capacity: i64,
    level: i64,
    /// Refill owed below one unit, in units × ms / 60 000, so slow rates
    /// accrue exactly instead of rounding to nothing every pass.
    carry: i64,
    last_ms: u64,
    /// The first day of the period the level counts in (budgets).
    period_start: i64,
}

/// The in-process token bucket: full at first, refilled continuously for
/// rate limits, reset at each UTC period for budgets. With `share < 1` it
/// holds that fraction of each capacity (a fail-open instance's fair share).
#[derive(Debug, Clone)]
pub struct LocalSource {
    share: f64,
    /// Each bucket's place in `levels`: found with one look-up by
    /// reference, so a pass copies no id.
    index: FxHashMap<String, usize>,
    levels: Vec<Level>,
}

impl Default for LocalSource {
    fn default() -> Self {
        LocalSource::new()
    }
}

impl LocalSource {
    pub fn new() -> LocalSource {
        LocalSource::with_share(1.0)
    }

    /// Changes the fraction held from now on (the number of instances changed).
    pub fn set_share(&mut self, share: f64) {
        if share.is_finite() {
            self.share = share.clamp(0.0, 1.0);
        }
    }

    pub fn with_share(share: f64) -> LocalSource {
        let share = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            0.0
        };
        LocalSource {
            share,
            index: FxHashMap::default(),
            levels: Vec::new(),
        }
    }

    fn capacity(&self, spec: &BucketSpec) -> i64 {
        let capacity = spec.capacity.max(0);
        if self.share >= 1.0 {
            // The whole limit (one instance): no float on every pass.
            return capacity;
        }
        (capacity as f64 * self.share).floor() as i64
    }

    /// The bucket's level brought up to `now_ms` and `day`; a bucket seen for
    /// the first time, or whose kind changed, starts full.
    fn level(&mut self, spec: &BucketSpec, now_ms: u64, day: i64) -> &mut Level {
        let capacity = self.capacity(spec);
        let fresh = || Level {
            refill: spec.refill,
            capacity,
            level: capacity,
            carry: 0,
            last_ms: now_ms,
            period_start: period_start(spec.refill, day),
        };
        // One look-up by reference on every pass; the id is copied only for
        // a bucket seen for the first time.
        let i = match self.index.get(spec.id.as_str()) {
            Some(&i) => i,
            None => {
                self.index.insert(spec.id.clone(), self.levels.len());
                self.levels.push(fresh());
                self.levels.len() - 1
            }
        };
        let entry = &mut self.levels[i];
        if entry.refill != spec.refill {
            *entry = fresh();
        }
        // A changed limit moves what is left by the change: a budget raised
        // by $10 has $10 more to spend, not a fresh full period.
        if entry.capacity != capacity {
            entry.level = entry.level.saturating_add(capacity - entry.capacity);
            entry.capacity = capacity;
        }
        match entry.refill {
            Refill::PerMinute => {
                let elapsed = now_ms.saturating_sub(entry.last_ms);
                entry.last_ms = entry.last_ms.max(now_ms);
                // Every term is non-negative: in u64 unless it overflows
                // (a limit near 2^63), which the 128-bit path takes.
                let (level, carry) = match u64::try_from(capacity)
                    .ok()
                    .and_then(|c| elapsed.checked_mul(c))
                    .zip(u64::try_from(entry.carry).ok())
                    .and_then(|(a, c)| a.checked_add(c))
                {
                    Some(accrued) => {
                        let whole = accrued / MINUTE_MS;
                        let level = i128::from(entry.level) + i128::from(whole);
                        (level, (accrued % MINUTE_MS) as i64)
                    }
                    None => {
                        let accrued =
                            i128::from(elapsed) * i128::from(capacity) + i128::from(entry.carry);
                        let whole = accrued / i128::from(MINUTE_MS);
                        (
                            i128::from(entry.level) + whole,
                            (accrued % i128::from(MINUTE_MS)) as i64,
                        )
                    }
                };
                let level = level.min(i128::from(capacity));
                entry.level = level as i64;
                entry.carry = if level == i128::from(capacity) {
                    0
                } else {
                    carry
                };
            }
            Refill::Period(p) => {
                let start = p.start(day);
                if start > entry.period_start {
                    entry.period_start = start;
                    entry.level = capacity;
                }
                entry.level = entry.level.min(capacity);
            }
        }
        entry
    }

    fn get(&self, id: &str) -> Option<&Level> {
        self.index.get(id).map(|&i| &self.levels[i])
    }

    /// Sets a bucket's level (a fail-open fallback starting from the shared
    /// store's last known remaining rather than from full).
    pub(super) fn seed(&mut self, spec: &BucketSpec, level: i64, now_ms: u64, day: i64) {
        let capacity = self.capacity(spec);
        let entry = self.level(spec, now_ms, day);
        entry.level = level.clamp(0, capacity);
        entry.carry = 0;
    }

    /// Whether `day` falls in a period before the one the level counts in:
    /// give-backs and charges for a closed period change nothing now.
    fn is_past(&self, spec: &BucketSpec, day: i64) -> bool {
        self.get(&spec.id).is_some_and(|e| {
            e.refill == spec.refill && period_start(spec.refill, day) < e.period_start
        })
    }
}

fn period_start(refill: Refill, day: i64) -> i64 {
    match refill {
        Refill::PerMinute => 0,
        Refill::Period(p) => p.start(day),
    }
}

impl Source for LocalSource {
    fn is_local(&self) -> bool {
        true
    }

    fn lease(
        &mut self,
        spec: &BucketSpec,
        want: i64,
        held: i64,
        now_ms: u64,
        day: i64,
    ) -> Result<Lease, SourceDown> {
        let capacity = self.capacity(spec);
        let entry = self.level(spec, now_ms, day);
        let granted = want.clamp(0, entry.level.max(0));
        entry.level -= granted;
        if entry.refill == Refill::PerMinute {
            // A full bucket wastes its refill: what the process holds counts
            // against capacity too, so a burst never exceeds it.
            let room = capacity.saturating_sub(held).saturating_sub(granted).max(0);
            entry.level = entry.level.min(room);
        }
        Ok(Lease {
            granted,
            remaining: entry.level,
        })
    }

    fn give_back(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        if self.is_past(spec, day) {
            return Ok(());
        }
        let capacity = self.capacity(spec);
        if let Some(&i) = self.index.get(&spec.id) {
            let e = &mut self.levels[i];
            e.level = e.level.saturating_add(n.max(0)).min(capacity);
        }
        Ok(())
    }

    fn charge(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        if self.is_past(spec, day) {
            return Ok(());
        }
        let last_ms = self.get(&spec.id).map_or(0, |e| e.last_ms);
        let entry = self.level(spec, last_ms, day);
        entry.level = entry.level.saturating_sub(n.max(0));
        Ok(())
    }

    fn forget(&mut self, id: &str) {
        let Some(i) = self.index.remove(id) else {
            return;
        };
        self.levels.swap_remove(i);
        // The last level moved into the gap: its id points there now.
        if let Some(moved) = self.index.values_mut().find(|j| **j == self.levels.len()) {
            *moved = i;
        }
    }
}
