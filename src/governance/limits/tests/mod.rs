//! Limits driven through `Limiter::tick` with injected time: no sleeps,
//! no timing assertions. A fake shared store stands in for Redis.

mod buckets;
mod failover;
mod instances;
mod periods;
mod threads;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;
use crate::governance::types::{Period, Priority};

const DAY_MS: u64 = super::DAY_MS;
/// Noon UTC on 2024-10-04 (day 20_000).
const NOON: u64 = 20_000 * DAY_MS + DAY_MS / 2;

fn spec(id: &str, capacity: i64, refill: Refill) -> BucketSpec {
    BucketSpec {
        id: id.to_owned(),
        capacity,
        refill,
        reserve: Reserve::default(),
    }
}

/// Takes `n` at a time until refused; returns the units admitted.
fn drain(bucket: &Bucket, n: i64, p: Priority) -> i64 {
    let mut admitted = 0;
    for _ in 0..100_000 {
        if bucket.try_take(n, p).is_err() {
            return admitted;
        }
        admitted += n;
    }
    panic!("a bucket never ran dry");
}

/// A shared store for several limiters: buckets without refill, an on/off
/// switch, and a record of what was charged.
#[derive(Clone, Default)]
struct FakeRemote(Arc<Mutex<Remote>>);

#[derive(Default)]
struct Remote {
    levels: HashMap<String, i64>,
    down: bool,
    charged: i64,
}

impl FakeRemote {
    fn set_down(&self, down: bool) {
        self.0.lock().unwrap().down = down;
    }

    fn level(&self, id: &str) -> i64 {
        self.0.lock().unwrap().levels[id]
    }

    fn charged(&self) -> i64 {
        self.0.lock().unwrap().charged
    }

    /// Runs `f` on the bucket's level, or fails while down.
    fn with<T>(&self, spec: &BucketSpec, f: impl FnOnce(&mut i64) -> T) -> Result<T, SourceDown> {
        let mut remote = self.0.lock().unwrap();
        if remote.down {
            return Err(SourceDown);
        }
        Ok(f(remote
            .levels
            .entry(spec.id.clone())
            .or_insert(spec.capacity)))
    }
}

impl Source for FakeRemote {
    fn is_local(&self) -> bool {
        false
    }

    fn lease(
        &mut self,
        spec: &BucketSpec,
        want: i64,
        _: i64,
        _: u64,
        _: i64,
    ) -> Result<Lease, SourceDown> {
        self.with(spec, |level| {
            let granted = want.clamp(0, (*level).max(0));
            *level -= granted;
            Lease {
                granted,
                remaining: *level,
            }
        })
    }

    fn give_back(&mut self, spec: &BucketSpec, n: i64, _: i64) -> Result<(), SourceDown> {
        self.with(spec, |level| *level += n)
    }

    fn charge(&mut self, spec: &BucketSpec, n: i64, _: i64) -> Result<(), SourceDown> {
        let fake = self.clone();
        self.with(spec, |level| *level -= n)?;
        fake.0.lock().unwrap().charged += n;
        Ok(())
    }
}
