//! Rate limits and budgets: per-core token buckets fed by a process pool,
//! rebalanced by a lock-free aggregator, leased from a `Source`.
//!
//! Each bucket (requests/min, tokens/min, nano-USD per period) has one slot
//! per core and a process pool. A take first draws on its core's slot, an
//! atomic only that core modifies apart from the aggregator's swaps, so the
//! common case touches no shared cache line. A slot that runs short pays
//! from the pool in one CAS loop and takes a batch for later — a batch of
//! `spare / (4 × slots)`, shrinking as the pool empties, so the last tokens
//! go one at a time to whoever asks.
//!
//! Every few milliseconds the aggregator (one thread, [`Limiter::tick`])
//! passes over each bucket: slots of idle cores, slots in debt, and — when
//! any core went short — all slots are swapped back into the pool; a pool in
//! debt is charged to the source; then the pool is filled from the source.
//! A [`LocalSource`] holds the whole limit, refilling continuously (rates)
//! or per UTC period (budgets), so everything available moves into the pool
//! at once. A shared source (the Redis tier) is leased from in batches sized
//! by demand, and idle pools are handed back.
//!
//! Conservation: tokens only ever move by one read-modify-write on one
//! atomic (a CAS, swap or add), from one place to another. RMWs act on the
//! latest value in each atomic's modification order whatever the ordering
//! argument, so no interleaving can create or lose a token, and `Relaxed`
//! is enough: no other memory is published through these atomics. The plain
//! loads (a slot's level before its CAS, the pool before the floor check,
//! the published figures) are hints; a stale one costs a retry or an
//! estimate, never a token. A take can therefore never admit more than the
//! source granted plus what was settled back; the estimates (remaining,
//! floors) lag by one aggregator pass. Two bounded slacks remain: a level
//! saturates at ±2^63 rather than wrap (only a broken usage figure gets
//! there), and a rate limit's refill may overshoot capacity by less than
//! one take when the aggregator sums the slots while a core is mid-refusal.
//!
//! A new bucket is empty until the next pass fills it; `define` at startup
//! should be followed by one `tick` before serving.
//!
//! Priorities: a class is refused while the pool is below its floor
//! (capacity × reserve, less what the source still holds outside the
//! process). The floor is checked against the pool, not the slots, so a
//! class may still spend what its core's slot already holds: the reserve is
//! kept within the slots' batches, which shrink as the pool nears it.

mod aggregate;
mod bucket;
mod failover;
mod source;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

pub use bucket::{Bucket, BucketSpec, Denied, Refill, Reserve, Status};
pub use failover::{FailoverSource, OutagePolicy};
pub use source::{Lease, LocalSource, Source, SourceDown};

/// A wait or reset that never ends (a spent total budget).
pub const NEVER: u64 = u64::MAX;

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;
/// A slot untouched this long is moved back to the pool.
const SLOT_IDLE_MS: u64 = 10;
/// A shared-source pool with no demand this long gives half of itself back.
const POOL_IDLE_MS: u64 = 100;
/// Bound on every CAS loop. A CAS fails only when another thread changed the
/// value, which is progress for someone; this bound is never reached in
/// practice and keeps each call's worst case finite.
const CAS_ATTEMPTS: usize = 1_000;

/// Milliseconds a rate limit of `capacity` per minute takes to refill `units`.
fn refill_ms(units: i64, capacity: i64) -> u64 {
    // In u64 when it fits (every pass publishes this), else in u128.
    if let (Ok(u), Ok(c)) = (u64::try_from(units), u64::try_from(capacity))
        && c > 0
        && let Some(n) = u.checked_mul(MINUTE_MS)
    {
        return n.div_ceil(c);
    }
    let units = u128::try_from(units).unwrap_or(0);
    let Ok(capacity) = u128::try_from(capacity) else {
        return NEVER;
    };
    if capacity == 0 {
        return NEVER;
    }
    u64::try_from((units * u128::from(MINUTE_MS)).div_ceil(capacity)).unwrap_or(NEVER)
}

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// How far the aggregator's cadence stretches while no limit is under
/// pressure: `aggregator_interval_ms` × this at most.
const IDLE_STRETCH: u32 = 8;

/// Wakes a backed-off aggregator at once: a refusal (a core went short),
/// a bucket defined or retired, a caller waiting for passes.
#[derive(Default)]
pub(crate) struct Wake {
    thread: std::sync::OnceLock<std::thread::Thread>,
    /// The aggregator is (about to be) asleep: the first nudge unparks it.
    armed: AtomicBool,
}

impl Wake {
    pub(crate) fn nudge(&self) {
        if self.armed.load(Relaxed)
            && self.armed.swap(false, Relaxed)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }
}

/// Binds the calling thread to slot `index`: each worker calls it once with
/// its worker id. Threads never bound (admin, aggregator, tests) share the
/// last, spare slot.
pub fn bind_slot(index: usize) {
    SLOT.with(|s| s.set(index));
}

fn slot_index(slots: usize) -> usize {
    SLOT.with(Cell::get).min(slots - 1)
}

/// Every bucket in the process, by id.
type Buckets = FxHashMap<String, Arc<Bucket>>;

/// The process's buckets and their aggregator; shared in an `Arc`.
pub struct Limiter {
    slots: usize,
    wake: Arc<Wake>,
    buckets: ArcSwap<Buckets>,
    /// Serialises `define` and `retire` (config loads and admin calls, never
    /// a request) and holds retired buckets until the aggregator returns
    /// what they held.
    retired: Mutex<Vec<Arc<Bucket>>>,
    stopped: AtomicBool,
    /// Passes the aggregator has finished, so a caller that defined buckets
    /// can wait for them to be filled.
    passes: std::sync::atomic::AtomicU64,
    running: AtomicBool,
}

impl Limiter {
    /// `slots`: one per worker core, plus a spare for every other thread.
    pub fn new(slots: usize) -> Arc<Limiter> {
        Arc::new(Limiter {
            slots: slots.max(1),
            wake: Arc::new(Wake::default()),
            buckets: ArcSwap::from_pointee(Buckets::default()),
            retired: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            passes: std::sync::atomic::AtomicU64::new(0),
            running: AtomicBool::new(false),
        })
    }

    /// The bucket for `spec.id`, created empty (the next aggregator pass
    /// fills it) or, if it exists, kept with its state under the new spec.
    pub fn define(&self, spec: BucketSpec) -> Arc<Bucket> {
        let _writer = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.buckets.load_full();
        if let Some(bucket) = current.get(&spec.id) {
            bucket.update(spec);
            return bucket.clone();
        }
        let mut next = Buckets::clone(&current);
        let bucket = Arc::new(Bucket::new(spec, self.slots, self.wake.clone()));
        next.insert(bucket.spec_id().to_owned(), bucket.clone());
        self.buckets.store(Arc::new(next));
        bucket
    }

    /// Lock-free; hold the `Arc` (in a per-snapshot table) rather than
    /// looking it up per request, as cloning it touches a shared count.
    pub fn get(&self, id: &str) -> Option<Arc<Bucket>> {
        self.buckets.load().get(id).cloned()
    }

    /// Removes a bucket; the next pass hands what it held back to the source.
    pub fn retire(&self, id: &str) {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.buckets.load_full();
        if !current.contains_key(id) {
            return;
        }
        let mut next = Buckets::clone(&current);
        if let Some(bucket) = next.remove(id) {
            retired.push(bucket);
        }
        self.buckets.store(Arc::new(next));
        self.wake.nudge();
    }

    /// One aggregator pass at monotonic `now_ms` and wall-clock `utc_ms`
    /// (Unix milliseconds: budget periods and their resets). True when some
    /// limit is under pressure (see `aggregate::pass`): the next pass comes
    /// at the base interval.
    pub fn tick(&self, now_ms: u64, utc_ms: u64, source: &mut dyn Source) -> bool {
        source.begin_pass(now_ms);
        let retired =
            std::mem::take(&mut *self.retired.lock().unwrap_or_else(PoisonError::into_inner));
        let live = self.buckets.load();
        for bucket in retired {
            // Defined again since: the source keeps what it knows of the id.
            let forget = !live.contains_key(bucket.spec_id());
            aggregate::retire(&bucket, utc_ms, source, forget);
        }
        let mut pressed = false;
        for bucket in live.values() {
            pressed |= aggregate::pass(bucket, now_ms, utc_ms, source);
        }
        self.passes.fetch_add(1, Relaxed);
        pressed
    }

    /// Waits (at most about a second) until the running aggregator has made
    /// `n` more passes: buckets defined before the call are filled then.
    /// Off the request path only (config loads, admin calls).
    pub fn await_passes(&self, n: u64) {
        if !self.running.load(Relaxed) {
            return;
        }
        let target = self.passes.load(Relaxed) + n;
        for _ in 0..1000 {
            self.wake.nudge();
            if self.passes.load(Relaxed) >= target {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs the aggregator on its own thread: a pass every `every` while a
    /// limit is under pressure; otherwise the wait doubles, up to
    /// `every` × [`IDLE_STRETCH`], so a gateway far from its limits wakes
    /// less. A refusal wakes it at once.
    pub fn spawn(
        self: &Arc<Self>,
        mut source: Box<dyn Source>,
        every: Duration,
    ) -> std::thread::JoinHandle<()> {
        let limiter = self.clone();
        self.running.store(true, Relaxed);
        std::thread::Builder::new()
            .name("tollgate-limits".into())
            .spawn(move || {
                use crate::resilience::{Clock, MonotonicClock};
                let _ = limiter.wake.thread.set(std::thread::current());
                let mut wait = every;
                while !limiter.stopped.load(Relaxed) {
                    let utc_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64);
                    limiter.wake.armed.store(true, Relaxed);
                    let pressed = limiter.tick(MonotonicClock.now_ms(), utc_ms, source.as_mut());
                    wait = if pressed {
                        every
                    } else {
                        (wait * 2).min(every * IDLE_STRETCH)
                    };
                    // A nudge since the pass began: no wait.
                    if limiter.wake.armed.load(Relaxed) {
                        std::thread::park_timeout(wait);
                    }
                    limiter.wake.armed.store(false, Relaxed);
                }
            })
            .unwrap_or_else(|e| panic!("tollgate: cannot start the limits aggregator: {e}"))
    }

    /// The spawned aggregator exits at its next wake, which this brings.
    pub fn stop(&self) {
        self.stopped.store(true, Relaxed);
        self.wake.nudge();
    }
}
