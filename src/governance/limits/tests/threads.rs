//! Exactness under real contention: std threads, one per slot, hammer one
//! bucket while another thread runs the aggregator. No refill between
//! passes, so every token admitted is one of the capacity's.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

use super::*;

const CORES: usize = 4;
const CAPACITY: i64 = 1_000;

/// Runs `work` on `CORES` threads bound to their slots while the aggregator
/// ticks, then lets every slot go idle and drains what is left from one
/// core. Returns the units the workers admitted and the units left.
fn hammer(work: impl Fn(&Bucket) -> i64 + Sync) -> (i64, i64) {
    let limiter = Limiter::new(CORES + 1);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("rpm", CAPACITY, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    let admitted = AtomicI64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..CORES)
            .map(|core| {
                let (b, admitted, work) = (&b, &admitted, &work);
                s.spawn(move || {
                    bind_slot(core);
                    admitted.fetch_add(work(b), Relaxed);
                })
            })
            .collect();
        let (limiter, done, source) = (&limiter, &done, &mut source);
        let ticker = s.spawn(move || {
            let mut now = 1;
            // Bounded: the workers end after a fixed number of attempts.
            while !done.load(Relaxed) && now < 10_000_000 {
                limiter.tick(now, NOON, source);
                now += 3;
                std::thread::yield_now();
            }
        });
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Relaxed);
        ticker.join().unwrap();
    });
    let admitted = admitted.into_inner();
    assert!(admitted <= CAPACITY, "admitted {admitted} of {CAPACITY}");
    limiter.tick(20_000_000, NOON, &mut source);
    (admitted, drain(&b, 1, Priority::Critical))
}

#[test]
fn threads_taking_one_at_a_time_admit_exactly_the_capacity() {
    let (admitted, left) = hammer(|b| {
        (0..3_000)
            .filter(|_| b.try_take(1, Priority::Standard).is_ok())
            .count() as i64
    });
    assert_eq!(admitted + left, CAPACITY);
}

#[test]
fn threads_that_reserve_and_settle_spend_exactly_the_capacity() {
    // Each request reserves 5 and used 2: three come back at its end.
    let (spent, left) = hammer(|b| {
        let mut spent = 0;
        for i in 0..3_000 {
            let p = [Priority::Batch, Priority::Standard, Priority::Critical][i % 3];
            if b.try_take(5, p).is_ok() {
                b.settle(3);
                spent += 2;
            }
        }
        spent
    });
    assert_eq!(spent + left, CAPACITY);
}
