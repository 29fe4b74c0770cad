//! The aggregator's pass over one bucket: reclaim what idle or starved
//! cores hold, repay debt, bring allowance in from the source (or hand it
//! back), reset budgets at their period's end, and publish the estimates
//! the request path reads. A bucket a pass left with nothing to do, and
//! that nothing has touched since, is passed over: a gateway with many
//! keys, most of them idle, pays for the busy ones only.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::bucket::{Bucket, BucketSpec, Refill, add};
use super::source::Source;
use super::{DAY_MS, NEVER, POOL_IDLE_MS, SLOT_IDLE_MS, refill_ms};

/// A quiet bucket still gets a whole pass this often (a budget's reset
/// estimate, a shared source's news).
const QUIET_MS: u64 = 1_000;

/// What the aggregator remembers about a bucket between passes.
#[derive(Debug)]
pub(super) struct Aggregate {
    last_ms: Option<u64>,
    /// The first day of the budget period the pool's tokens belong to.
    period_start: Option<i64>,
    /// Each slot's level after the last pass: a change means traffic.
    seen: Vec<i64>,
    refused_seen: Vec<i64>,
    active_ms: Vec<u64>,
    /// What the process held after the last pass; less now means consumed.
    held_after: i64,
    /// The last pass that saw demand (or gave back for want of it).
    demand_ms: u64,
    /// The source's remaining after the last lease, when known.
    outside: Option<i64>,
    /// The last pass left nothing to do: what the bucket looked like then.
    quiet: Option<Quiet>,
    /// The spec the last pass loaded, and its version.
    spec: Option<(u64, Arc<BucketSpec>)>,
}

/// A settled bucket as a pass left it: every slot empty, no debt, no
/// refusal, no demand, nothing to ask of the source.
#[derive(Debug)]
struct Quiet {
    since_ms: u64,
    day: i64,
    pool: i64,
    refused: i64,
    spec: Arc<BucketSpec>,
}

impl Quiet {
    /// Nothing has touched the bucket since, and no day or redefinition
    /// calls for a pass.
    fn holds(&self, bucket: &Bucket, spec: &Arc<BucketSpec>, day: i64, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.since_ms) < QUIET_MS
            && self.day == day
            && Arc::ptr_eq(&self.spec, spec)
            && bucket.pool.load(Relaxed) == self.pool
            && bucket.slots.iter().all(|s| s.level.load(Relaxed) == 0)
            && refused_total(bucket) == self.refused
    }
}

fn refused_total(bucket: &Bucket) -> i64 {
    bucket
        .slots
        .iter()
        .fold(0i64, |n, s| n.wrapping_add(s.refused.load(Relaxed)))
}

impl Aggregate {
    pub(super) fn new(slots: usize) -> Aggregate {
        Aggregate {
            last_ms: None,
            period_start: None,
            seen: vec![0; slots],
            refused_seen: vec![0; slots],
            active_ms: vec![0; slots],
            held_after: 0,
            demand_ms: 0,
            outside: None,
            quiet: None,
            spec: None,
        }
    }
}

/// Passes' worth of demand a local pool must hold for its limit not to be
/// under pressure.
const PRESSURE_PASSES: i64 = 4 * super::IDLE_STRETCH as i64;

/// One pass over `bucket` at monotonic `now_ms` and wall-clock `utc_ms`.
/// True when the limit is under pressure and the next pass should come at
/// the base interval: a take was refused, the pool is in debt, the source
/// is unreachable, or the pool holds less than [`PRESSURE_PASSES`] passes
/// of the demand just seen — for a shared source as for the local one: a
/// pool leased in small batches (a tight shared limit) is always under it,
/// while one far from its limit holds far more than a stretched pass takes.
pub(super) fn pass(bucket: &Bucket, now_ms: u64, utc_ms: u64, source: &mut dyn Source) -> bool {
    let day = day_of(utc_ms);
    let mut agg = bucket.lock_aggregate();
    // The spec is reloaded only when it changed: a load from the swap
    // costs more than the rest of a quiet bucket's pass.
    let spec = match &agg.spec {
        Some((version, spec)) if *version == bucket.spec_version() => spec.clone(),
        _ => {
            let (version, spec) = bucket.spec_versioned();
            agg.spec = Some((version, spec.clone()));
            spec
        }
    };
    if agg
        .quiet
        .as_ref()
        .is_some_and(|q| q.holds(bucket, &spec, day, now_ms))
    {
        // The pass interval (a refusal's soonest retry) is still the real one.
        agg.last_ms = Some(now_ms);
        return false;
    }
    agg.quiet = None;
    if let Some(last) = agg.last_ms
        && now_ms > last
    {
        bucket.published.tick_ms.store(now_ms - last, Relaxed);
    }
    agg.last_ms = Some(now_ms);
    roll_period(&mut agg, bucket, &spec, day, source);
    let refused = rebalance(&mut agg, bucket, now_ms);
    let consumed = agg.held_after.saturating_sub(bucket.held()).max(0);
    let demand = consumed.saturating_add(refused);
    if demand > 0 {
        agg.demand_ms = now_ms;
    }
    repay_debt(bucket, &spec, day, source);
    let local = source.is_local();
    let settled = if local {
        refill_local(&mut agg, bucket, &spec, now_ms, day, source)
    } else {
        exchange_remote(
            &mut agg,
            bucket,
            &spec,
            (demand, refused),
            now_ms,
            day,
            source,
        )
    };
    publish(&agg, bucket, &spec, utc_ms, day);
    agg.held_after = bucket.held();
    let pool = bucket.pool.load(Relaxed);
    let pressed = refused > 0
        || pool < 0
        || bucket.published.unavailable.load(Relaxed)
        || (demand > 0 && pool < demand.saturating_mul(PRESSURE_PASSES));
    if settled
        && demand == 0
        && pool >= 0
        && bucket.slots.iter().all(|s| s.level.load(Relaxed) == 0)
    {
        agg.quiet = Some(Quiet {
            since_ms: now_ms,
            day,
            pool,
            refused: refused_total(bucket),
            spec,
        });
    }
    pressed
}

/// Hands everything a retired bucket holds back to its source.
pub(super) fn retire(bucket: &Bucket, utc_ms: u64, source: &mut dyn Source, forget: bool) {
    let spec = bucket.spec();
    let held = bucket.take_all();
    return_held(source, &spec, held, day_of(utc_ms));
    if forget {
        source.forget(&spec.id);
    }
}

fn day_of(utc_ms: u64) -> i64 {
    (utc_ms / DAY_MS) as i64
}

/// A budget's tokens belong to their period: at a new one, what the process
/// holds goes back to the old period and the new one is leased afresh.
fn roll_period(
    agg: &mut Aggregate,
    bucket: &Bucket,
    spec: &BucketSpec,
    day: i64,
    source: &mut dyn Source,
) {
    let Refill::Period(period) = spec.refill else {
        return;
    };
    let start = period.start(day);
    match agg.period_start {
        Some(old) if old < start => {
            let held = bucket.take_all();
            return_held(source, spec, held, old);
            agg.held_after = 0;
            agg.outside = None;
        }
        // A wall clock stepping back does not reopen a closed period.
        Some(old) if old > start => return,
        _ => {}
    }
    agg.period_start = Some(start);
}

/// Moves idle, indebted and (when some core went short) all slots back to
/// the pool, so no tokens strand on a core without traffic and a starved
/// core can take them. Returns the units refused since the last pass.
fn rebalance(agg: &mut Aggregate, bucket: &Bucket, now_ms: u64) -> i64 {
    let mut refused = 0i64;
    for (slot, seen) in bucket.slots.iter().zip(agg.refused_seen.iter_mut()) {
        let total = slot.refused.load(Relaxed);
        refused = refused.saturating_add(total.wrapping_sub(*seen).max(0));
        *seen = total;
    }
    for (i, slot) in bucket.slots.iter().enumerate() {
        let level = slot.level.load(Relaxed);
        if level != agg.seen[i] {
            agg.active_ms[i] = now_ms;
        }
        let idle = now_ms.saturating_sub(agg.active_ms[i]) >= SLOT_IDLE_MS;
        if level != 0 && (idle || level < 0 || refused > 0) {
            add(&bucket.pool, slot.level.swap(0, Relaxed));
            agg.seen[i] = 0;
        } else {
            agg.seen[i] = level;
        }
    }
    refused
}

/// A pool in debt (settles and charges beyond what was taken) is charged
/// to the source, so the spend is counted where the limit is kept.
fn repay_debt(bucket: &Bucket, spec: &BucketSpec, day: i64, source: &mut dyn Source) {
    let pool = bucket.pool.load(Relaxed);
    if pool < 0 {
        let debt = pool.saturating_neg();
        if source.charge(spec, debt, day).is_ok() {
            add(&bucket.pool, debt);
        }
    }
}

/// The whole limit lives here: fill the process up to capacity. True when
/// there is nothing more to bring in until something changes: a rate limit
/// held whole, a budget whose source granted nothing (spent, or all here).
fn refill_local(
    agg: &mut Aggregate,
    bucket: &Bucket,
    spec: &BucketSpec,
    now_ms: u64,
    day: i64,
    source: &mut dyn Source,
) -> bool {
    let held = bucket.held();
    let room = spec.capacity.saturating_sub(held).max(0);
    match source.lease(spec, room, held, now_ms, day) {
        Ok(lease) => {
            add(&bucket.pool, lease.granted);
            agg.outside = Some(lease.remaining);
            bucket.published.unavailable.store(false, Relaxed);
            lease.granted == 0
                && match spec.refill {
                    Refill::PerMinute => room == 0,
                    Refill::Period(_) => true,
                }
        }
        Err(_) => {
            bucket.published.unavailable.store(true, Relaxed);
            false
        }
    }
}

/// The limit is shared with other instances: lease about two passes' worth
/// of demand when the pool runs low, in batches that shrink as the shared
/// level falls (so instances do not strand the last tokens); when idle,
/// give back half the pool every `POOL_IDLE_MS`, so a briefly quiet
/// instance still admits its next request at once while a long-idle one
/// returns nearly everything within a second.
fn exchange_remote(
    agg: &mut Aggregate,
    bucket: &Bucket,
    spec: &BucketSpec,
    (demand, refused): (i64, i64),
    now_ms: u64,
    day: i64,
    source: &mut dyn Source,
) -> bool {
    let pool = bucket.pool.load(Relaxed);
    let keep = idle_keep(bucket, spec);
    let target = demand.saturating_mul(2).max(keep).min(spec.capacity);
    if (demand > 0 || pool < keep) && pool < target {
        let mut want = target - pool;
        if let Some(rest) = agg.outside {
            want = want.min((rest / 8).max(refused.min(rest)).max(1));
        }
        match source.lease(spec, want, bucket.held(), now_ms, day) {
            Ok(lease) => {
                add(&bucket.pool, lease.granted);
                agg.outside = Some(lease.remaining);
                bucket.published.unavailable.store(false, Relaxed);
            }
            Err(_) => bucket.published.unavailable.store(true, Relaxed),
        }
        false
    } else if pool > keep && now_ms.saturating_sub(agg.demand_ms) >= POOL_IDLE_MS {
        let half = take_half(bucket, pool - keep);
        if half > 0 {
            if source.give_back(spec, half, day).is_ok() {
                agg.outside = agg.outside.map(|rest| rest.saturating_add(half));
            } else {
                add(&bucket.pool, half);
            }
        }
        agg.demand_ms = now_ms;
        false
    } else {
        // Nothing asked of the source; a pool above what it keeps still has
        // a give-back due once idle long enough.
        pool <= keep
    }
}

/// What an idle instance keeps on hand from a shared source: room for
/// twice its largest request (or 1/64 of the limit), so the first request
/// after a quiet spell is admitted without waiting for a lease. Across N
/// instances at most N times this is stranded when the others are busy.
pub(super) fn idle_keep(bucket: &Bucket, spec: &BucketSpec) -> i64 {
    (spec.capacity / 64)
        .max(
            bucket
                .published
                .largest_take
                .load(Relaxed)
                .saturating_mul(2),
        )
        .clamp(1, spec.capacity.max(1))
}

/// Takes half the pool (rounded up, at most `spare`) out of it, racing the
/// cores fairly.
fn take_half(bucket: &Bucket, spare: i64) -> i64 {
    let mut pool = bucket.pool.load(Relaxed);
    for _ in 0..super::CAS_ATTEMPTS {
        if pool <= 0 {
            return 0;
        }
        let half = (pool - pool / 2).min(spare).max(0);
        if half == 0 {
            return 0;
        }
        match bucket
            .pool
            .compare_exchange_weak(pool, pool - half, Relaxed, Relaxed)
        {
            Ok(_) => return half,
            Err(now) => pool = now,
        }
    }
    0
}

/// Gives back what a process held (or charges what it owed) for `day`'s
/// period. A source that cannot take it now loses nothing that matters:
/// the period is closed or the bucket retired.
fn return_held(source: &mut dyn Source, spec: &BucketSpec, held: i64, day: i64) {
    let _ = match held {
        0 => Ok(()),
        n if n > 0 => source.give_back(spec, n, day),
        n => source.charge(spec, n.saturating_neg(), day),
    };
}

fn publish(agg: &Aggregate, bucket: &Bucket, spec: &BucketSpec, utc_ms: u64, day: i64) {
    let outside = agg.outside.unwrap_or(0);
    let remaining = outside.saturating_add(bucket.held());
    let capacity = spec.capacity;
    let reset_ms = match spec.refill {
        Refill::PerMinute => refill_ms(capacity.saturating_sub(remaining), capacity),
        Refill::Period(p) => match p.end(day) {
            Some(end) => {
                let end_ms = i128::from(end) * i128::from(DAY_MS);
                u64::try_from((end_ms - i128::from(utc_ms)).max(0)).unwrap_or(NEVER)
            }
            None => NEVER,
        },
    };
    let published = &bucket.published;
    published.remaining.store(remaining, Relaxed);
    published.reset_ms.store(reset_ms, Relaxed);
    published.outside.store(outside, Relaxed);
    bucket.publish_floors(spec);
}
