//! A shared store that goes away and comes back, under each outage policy.

use super::*;

/// One aggregator pass at `now`, then `takes` attempts of `n`; the units admitted.
fn round(
    limiter: &Limiter,
    source: &mut dyn Source,
    b: &Bucket,
    now: u64,
    takes: usize,
    n: i64,
) -> i64 {
    limiter.tick(now, NOON, source);
    (0..takes)
        .filter(|_| b.try_take(n, Priority::Standard).is_ok())
        .count() as i64
        * n
}

/// Quiet passes until the process has handed everything back.
fn go_idle(limiter: &Limiter, source: &mut dyn Source, b: &Bucket, from: u64) {
    for i in 0..40 {
        limiter.tick(from + i * 100, NOON, source);
    }
    // All but the room kept for the next request (see `idle_keep`).
    assert!(b.held() <= super::super::aggregate::idle_keep(b, &b.spec()));
}

#[test]
fn fail_open_serves_a_fair_share_and_replays_the_spend_on_return() {
    let remote = FakeRemote::default();
    let mut source = FailoverSource::new(
        Box::new(remote.clone()),
        OutagePolicy::FailOpen { share: 0.5 },
        1_000,
    );
    let degraded = source.degraded_flag();
    let limiter = Limiter::new(2);
    let b = limiter.define(spec("budget", 1_000, Refill::Period(Period::Total)));
    let mut now = 0;
    let mut before = 0;
    for _ in 0..20 {
        now += 5;
        before += round(&limiter, &mut source, &b, now, 3, 10);
    }
    assert!(before > 0 && !source.is_degraded());

    remote.set_down(true);
    let held = b.held();
    let shared_left = remote.0.lock().unwrap().levels["budget"];
    let mut during = 0;
    for _ in 0..100 {
        now += 5;
        during += round(&limiter, &mut source, &b, now, 3, 10);
    }
    assert!(degraded.load(std::sync::atomic::Ordering::Relaxed));
    assert!(
        during > held,
        "the fallback admitted beyond what was in hand"
    );
    assert!(
        during <= held + shared_left / 2,
        "at most half of what was left: {during} > {held} + {shared_left} / 2"
    );

    remote.set_down(false);
    now += 1_000;
    limiter.tick(now, NOON, &mut source);
    assert!(!source.is_degraded());
    go_idle(&limiter, &mut source, &b, now + 100);
    assert_eq!(
        remote.level("budget") + b.held(),
        1_000 - before - during,
        "no spend lost"
    );
}

#[test]
fn fail_closed_refuses_once_the_lease_is_spent_and_replays_charges() {
    let remote = FakeRemote::default();
    let mut source = FailoverSource::new(Box::new(remote.clone()), OutagePolicy::FailClosed, 1_000);
    let limiter = Limiter::new(2);
    let b = limiter.define(spec("rpm", 100, Refill::Period(Period::Total)));
    let mut now = 0;
    let mut admitted = 0;
    for _ in 0..5 {
        now += 5;
        admitted += round(&limiter, &mut source, &b, now, 4, 1);
    }
    assert!(admitted > 0);

    remote.set_down(true);
    for _ in 0..20 {
        now += 5;
        admitted += round(&limiter, &mut source, &b, now, 4, 1);
    }
    let d = b.try_take(1, Priority::Standard).unwrap_err();
    assert!(
        d.unavailable,
        "refused because the store is away, not the limit"
    );
    assert!(source.is_degraded());
    b.charge(5);
    now += 5;
    limiter.tick(now, NOON, &mut source);
    assert_eq!(remote.charged(), 0, "queued while down");

    remote.set_down(false);
    now += 1_000;
    admitted += round(&limiter, &mut source, &b, now, 4, 1);
    assert_eq!(remote.charged(), 5, "replayed on return");
    assert!(!source.is_degraded());
    now += 5;
    let after = round(&limiter, &mut source, &b, now, 4, 1);
    assert!(after > 0, "admitting again");
    admitted += after;
    go_idle(&limiter, &mut source, &b, now + 100);
    assert_eq!(remote.level("rpm") + b.held(), 100 - admitted - 5);
}
