//! One process, a local source: refill, floors, settling, slots.

use super::*;

#[test]
fn a_rate_limit_refills_continuously_and_never_above_capacity() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("rpm", 600, Refill::PerMinute));
    assert!(
        b.try_take(1, Priority::Standard).is_err(),
        "empty until the first pass"
    );
    limiter.tick(0, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 600);

    // 600/min is one token per 100 ms; half a token waits for its other half.
    limiter.tick(50, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 0);
    limiter.tick(100, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 1);
    limiter.tick(1_100, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 10);

    // Ten idle minutes fill it to capacity, not beyond.
    limiter.tick(601_100, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 600);
}

#[test]
fn a_refusal_says_when_to_retry_and_what_is_left() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("tpm", 600, Refill::PerMinute));
    limiter.tick(0, NOON, &mut source);
    assert_eq!(
        b.status(),
        Status {
            limit: 600,
            remaining: 600,
            reset_ms: 0
        }
    );
    assert!(b.try_take(60, Priority::Standard).is_ok());
    limiter.tick(10, NOON, &mut source);
    let s = b.status();
    assert_eq!((s.remaining, s.reset_ms), (540, 6_000), "60 tokens at 10/s");

    assert_eq!(drain(&b, 100, Priority::Standard), 500);
    limiter.tick(20, NOON, &mut source);
    let d = b.try_take(100, Priority::Standard).unwrap_err();
    assert_eq!((d.limit, d.remaining, d.unavailable), (600, 40, false));
    assert_eq!(d.retry_after_ms, 6_000, "60 more tokens at 10/s");
    assert_eq!(d.reset_ms, 56_000);
    assert_eq!(
        b.try_take(601, Priority::Critical)
            .unwrap_err()
            .retry_after_ms,
        NEVER,
        "larger than the limit: no wait helps"
    );
}

#[test]
fn each_class_stops_at_its_floor_and_critical_takes_the_last() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let mut s = spec("rpm", 100, Refill::Period(Period::Total));
    s.reserve = Reserve {
        critical: 0.1,
        standard: 0.2,
    };
    let b = limiter.define(s);
    limiter.tick(0, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Batch), 70);
    assert_eq!(drain(&b, 1, Priority::Standard), 20);
    assert_eq!(drain(&b, 1, Priority::Critical), 10);

    limiter.tick(1, NOON, &mut source);
    let d = b.try_take(1, Priority::Batch).unwrap_err();
    assert_eq!(
        d.retry_after_ms, NEVER,
        "a spent total budget never comes back"
    );
    assert_eq!(
        b.try_take(71, Priority::Batch).unwrap_err().retry_after_ms,
        NEVER,
        "more than batch may ever use"
    );
}

#[test]
fn a_class_cannot_spend_its_cores_slot_once_the_pool_is_below_its_floor() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let mut s = spec("rpm", 1_000, Refill::Period(Period::Total));
    s.reserve.standard = 0.5;
    let b = limiter.define(s);
    limiter.tick(0, NOON, &mut source);
    // Standard traffic draws the pool below batch's floor; its slot keeps a batch.
    for _ in 0..520 {
        b.try_take(1, Priority::Standard).unwrap();
    }
    assert!(b.held() - b.pool.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert!(b.try_take(1, Priority::Batch).is_err());
    assert!(b.try_take(1, Priority::Standard).is_ok());
}

#[test]
fn settling_gives_back_or_takes_more_and_debt_is_repaid_first() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("budget", 100, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    b.try_take(50, Priority::Standard).unwrap();
    b.settle(20);
    assert_eq!(
        drain(&b, 1, Priority::Standard),
        70,
        "30 used of the 50 reserved"
    );

    let r = limiter.define(spec("rate", 600, Refill::PerMinute));
    limiter.tick(0, NOON, &mut source);
    assert_eq!(drain(&r, 1, Priority::Standard), 600);
    r.settle(-60);
    limiter.tick(100, NOON, &mut source);
    let d = r.try_take(1, Priority::Standard).unwrap_err();
    assert_eq!(
        d.retry_after_ms, 6_000,
        "the 60 owed come back before the next one"
    );
    limiter.tick(6_000, NOON, &mut source);
    assert_eq!(drain(&r, 1, Priority::Standard), 0);
    limiter.tick(6_100, NOON, &mut source);
    assert_eq!(drain(&r, 1, Priority::Standard), 1);
}

#[test]
fn a_charge_before_the_first_pass_counts_against_the_period() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("budget", 1_000, Refill::Period(Period::Day)));
    b.charge(300);
    limiter.tick(0, NOON, &mut source);
    assert_eq!(b.status().remaining, 700);
    assert_eq!(drain(&b, 1, Priority::Standard), 700);
}

#[test]
fn tokens_stranded_on_a_quiet_core_go_back_to_the_pool() {
    let limiter = Limiter::new(3);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("rpm", 100, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    bind_slot(0);
    b.try_take(1, Priority::Standard).unwrap();
    let pool = || b.pool.load(std::sync::atomic::Ordering::Relaxed);
    assert!(pool() < 99, "core 0 took a batch for later");
    limiter.tick(1, NOON, &mut source);
    limiter.tick(5, NOON, &mut source);
    assert!(pool() < 99, "core 0 was busy a moment ago");
    limiter.tick(30, NOON, &mut source);
    assert_eq!(pool(), 99, "core 0 went quiet");
    bind_slot(1);
    assert_eq!(drain(&b, 1, Priority::Standard), 99);
}

#[test]
fn a_starved_core_gets_a_busy_cores_tokens_at_the_next_pass() {
    let limiter = Limiter::new(3);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("rpm", 100, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    bind_slot(0);
    b.try_take(1, Priority::Standard).unwrap();
    bind_slot(1);
    let first = drain(&b, 1, Priority::Standard);
    // Core 0 was busy a moment ago, yet core 1 went short: rebalance.
    limiter.tick(1, NOON, &mut source);
    assert_eq!(1 + first + drain(&b, 1, Priority::Standard), 100);
}

#[test]
fn redefining_keeps_the_state_and_moves_the_limit() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("budget", 100, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    b.try_take(40, Priority::Standard).unwrap();
    let again = limiter.define(spec("budget", 150, Refill::Period(Period::Total)));
    assert!(Arc::ptr_eq(&b, &again));
    limiter.tick(1, NOON, &mut source);
    assert_eq!(b.status(), {
        Status {
            limit: 150,
            remaining: 110,
            reset_ms: NEVER,
        }
    });
    assert_eq!(drain(&b, 1, Priority::Standard), 110);
}

#[test]
fn a_retired_bucket_is_gone_and_its_tokens_go_back() {
    let limiter = Limiter::new(2);
    let remote = FakeRemote::default();
    let mut source = remote.clone();
    let b = limiter.define(spec("rpm", 100, Refill::Period(Period::Total)));
    assert!(b.try_take(1, Priority::Standard).is_err());
    limiter.tick(0, NOON, &mut source);
    assert!(b.try_take(1, Priority::Standard).is_ok());
    limiter.retire("rpm");
    assert!(limiter.get("rpm").is_none());
    limiter.tick(1, NOON, &mut source);
    assert_eq!(remote.level("rpm"), 99);
}

#[test]
fn a_bucket_retired_and_defined_again_keeps_the_spend_so_far() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("budget", 100, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    b.try_take(30, Priority::Standard).unwrap();
    limiter.retire("budget");
    let again = limiter.define(spec("budget", 100, Refill::Period(Period::Total)));
    assert!(!Arc::ptr_eq(&b, &again));
    limiter.tick(1, NOON, &mut source);
    assert_eq!(drain(&again, 1, Priority::Standard), 70);
}

#[test]
fn the_spawned_aggregator_stops_when_told() {
    let limiter = Limiter::new(2);
    let aggregator = limiter.spawn(
        Box::new(LocalSource::new()),
        std::time::Duration::from_millis(1),
    );
    limiter.stop();
    aggregator.join().unwrap();
}

/// A local source that counts the calls made to it.
struct Counting(LocalSource, usize);

impl Source for Counting {
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
        self.1 += 1;
        self.0.lease(spec, want, held, now_ms, day)
    }

    fn give_back(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        self.1 += 1;
        self.0.give_back(spec, n, day)
    }

    fn charge(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        self.1 += 1;
        self.0.charge(spec, n, day)
    }
}

#[test]
fn an_idle_full_bucket_is_passed_over_until_touched() {
    let limiter = Limiter::new(2);
    let mut source = Counting(LocalSource::new(), 0);
    let rpm = limiter.define(spec("rpm", 600, Refill::PerMinute));
    let budget = limiter.define(spec("budget", 1_000, Refill::Period(Period::Day)));
    limiter.tick(0, NOON, &mut source);
    limiter.tick(2, NOON, &mut source);
    let settled = source.1;
    for t in 3..100 {
        limiter.tick(t, NOON, &mut source);
    }
    assert_eq!(
        source.1, settled,
        "full and untouched: no pass asks the source"
    );
    assert_eq!(rpm.status().remaining, 600);

    // A take wakes the bucket: its next pass refills, and its spend shows.
    bind_slot(0);
    rpm.try_take(60, Priority::Standard).unwrap();
    budget.try_take(250, Priority::Standard).unwrap();
    limiter.tick(100, NOON, &mut source);
    assert!(source.1 > settled);
    assert_eq!(budget.status().remaining, 750);
    // Idle again (its slots reclaimed), then a minute refills the rate.
    for t in (110..61_000).step_by(10) {
        limiter.tick(t, NOON, &mut source);
    }
    assert_eq!(rpm.status().remaining, 600, "refilled");
    assert_eq!(drain(&budget, 1, Priority::Standard), 750);

    // A spent budget sleeps too, and wakes at the next day with a new one.
    for t in (61_000..62_000).step_by(10) {
        limiter.tick(t, NOON, &mut source);
    }
    let asleep = source.1;
    for t in (62_000..62_500).step_by(10) {
        limiter.tick(t, NOON, &mut source);
    }
    assert!(
        source.1 - asleep <= 2,
        "50 ticks, at most the once-a-second pass of each bucket: {}",
        source.1 - asleep
    );
    limiter.tick(62_500, NOON + DAY_MS, &mut source);
    assert_eq!(drain(&budget, 1, Priority::Standard), 1_000);
}

#[test]
fn a_quiet_bucket_still_gets_a_pass_every_second() {
    let limiter = Limiter::new(1);
    let mut source = Counting(LocalSource::new(), 0);
    limiter.define(spec("rpm", 600, Refill::PerMinute));
    limiter.tick(0, NOON, &mut source);
    limiter.tick(2, NOON, &mut source);
    let settled = source.1;
    limiter.tick(1_500, NOON, &mut source);
    assert_eq!(source.1, settled + 1, "a second on, one full pass");
}

#[test]
fn a_redefined_quiet_bucket_moves_to_its_new_limit_at_once() {
    let limiter = Limiter::new(1);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("rpm", 600, Refill::PerMinute));
    limiter.tick(0, NOON, &mut source);
    limiter.tick(2, NOON, &mut source);
    limiter.define(spec("rpm", 900, Refill::PerMinute));
    limiter.tick(4, NOON, &mut source);
    assert_eq!(b.status().limit, 900);
    assert_eq!(drain(&b, 1, Priority::Standard), 900);
}

/// A roomy and a tight rpm limit, filled by a first pass, and three
/// requests taken from the roomy one.
fn roomy_and_tight(source: &mut dyn Source) -> (Arc<Limiter>, Arc<Bucket>, Arc<Bucket>) {
    let limiter = Limiter::new(2);
    let roomy = limiter.define(spec("rpm:roomy", 1_000_000, Refill::PerMinute));
    let tight = limiter.define(spec("rpm:tight", 100, Refill::PerMinute));
    limiter.tick(0, NOON, source);
    for _ in 0..3 {
        roomy.try_take(1, Priority::Standard).unwrap();
    }
    (limiter, roomy, tight)
}

#[test]
fn a_pass_says_when_a_limit_is_under_pressure() {
    let mut source = LocalSource::new();
    let (limiter, _, tight) = roomy_and_tight(&mut source);
    // Demand far below what the pools hold: no pressure, the cadence may stretch.
    assert!(!limiter.tick(2, NOON, &mut source));
    assert!(!limiter.tick(4, NOON, &mut source), "no demand at all");
    // The tight pool holds less than a few stretched passes of its demand.
    for _ in 0..10 {
        tight.try_take(1, Priority::Standard).unwrap();
    }
    assert!(limiter.tick(6, NOON, &mut source));
    // A refusal is pressure, whatever the pool holds after the pass.
    assert_eq!(drain(&tight, 1, Priority::Standard), 90);
    assert!(limiter.tick(8, NOON, &mut source));
}

#[test]
fn a_shared_limit_far_from_spent_lets_the_cadence_stretch_and_a_tight_one_does_not() {
    let mut source = FakeRemote::default();
    let (limiter, _, tight) = roomy_and_tight(&mut source);
    // The roomy pool leased what an idle instance keeps: far more than a
    // stretched pass of this demand takes.
    assert!(!limiter.tick(2, NOON, &mut source));
    // The tight one leases in small batches: always under pressure while used.
    for _ in 0..3 {
        if tight.try_take(1, Priority::Standard).is_err() {
            limiter.tick(3, NOON, &mut source);
            tight.try_take(1, Priority::Standard).unwrap();
        }
    }
    assert!(limiter.tick(4, NOON, &mut source));
    // A shared source that went down while a lease was due is pressure.
    source.set_down(true);
    for _ in 0..2 {
        let _ = tight.try_take(1, Priority::Standard);
    }
    assert!(limiter.tick(6, NOON, &mut source));
}

#[test]
fn a_refusal_wakes_a_resting_aggregator() {
    let limiter = Limiter::new(2);
    let b = limiter.define(spec("rpm:wake", 5, Refill::PerMinute));
    // Passes an hour apart: only a nudge brings the next one.
    let aggregator = limiter.spawn(
        Box::new(LocalSource::new()),
        std::time::Duration::from_secs(3_600),
    );
    limiter.await_passes(1);
    assert_eq!(drain(&b, 1, Priority::Standard), 5);
    let before = limiter.passes.load(Relaxed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Each refusal nudges; the count of passes moves without the hour.
    while limiter.passes.load(Relaxed) == before && std::time::Instant::now() < deadline {
        assert!(b.try_take(1, Priority::Standard).is_err());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        limiter.passes.load(Relaxed) > before,
        "a refusal brought a pass"
    );
    limiter.stop();
    aggregator.join().unwrap();
}
