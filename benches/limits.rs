//! Admission on the request path: the naive bucket (one `AtomicI64` every
//! core decrements) against per-core slots fed by a pool
//! (`governance::limits`), at one thread and at every core. Each thread does
//! one take per iteration, so a figure is one take's time on each thread
//! while all of them take at once: contention shows as that time growing.

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::governance::limits::{BucketSpec, Limiter, LocalSource, Refill, Reserve, bind_slot};
use tollgate::governance::types::{Period, Priority};

/// Large enough that no run spends it: the figures are admissions.
const CAPACITY: i64 = i64::MAX / 4;

/// Runs `take` `iters` times on each of `threads` threads started together;
/// returns the slowest thread's time.
fn contended<F>(threads: usize, iters: u64, take: F) -> Duration
where
    F: Fn(usize) + Sync,
{
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..threads)
            .map(|core| {
                let (start, take) = (&start, &take);
                s.spawn(move || {
                    bind_slot(core);
                    start.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        take(core);
                    }
                    t.elapsed()
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

fn bench_take(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("limits take");
    for threads in [1, cores] {
        let naive = AtomicI64::new(CAPACITY);
        group.bench_function(format!("naive shared atomic, {threads} thread(s)"), |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, |_| {
                    black_box(naive.fetch_sub(1, Ordering::Relaxed) >= 1);
                })
            })
        });

        let limiter = Limiter::new(threads + 1);
        let bucket = limiter.define(BucketSpec {
            id: "tpm".into(),
            capacity: CAPACITY,
            refill: Refill::Period(Period::Total),
            reserve: Reserve::default(),
        });
        limiter.tick(0, 0, &mut LocalSource::new());
        let bucket = Arc::clone(&bucket);
        group.bench_function(format!("per-core slots, {threads} thread(s)"), |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, |_| {
                    black_box(bucket.try_take(1, Priority::Standard).is_ok());
                })
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_take
}
criterion_main!(benches);
