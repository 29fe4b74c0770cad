//! Breaker behaviour driven by a manual clock: when it opens, when it lets
//! probes through, and what closes or reopens it.

use super::*;
use crate::resilience::{Clock, ManualClock};

const PARAMS: BreakerParams = BreakerParams {
    window_ms: 10_000,
    error_rate: 0.5,
    min_requests: 10,
    open_ms: 5_000,
    half_open_probes: 2,
};

fn record_n(b: &mut Breaker, clock: &ManualClock, n: u32, success: bool) {
    for _ in 0..n {
        assert_eq!(b.try_acquire(clock.now_ms()), Admission::Allowed);
        b.record(clock.now_ms(), success, false);
    }
}

/// Trips the breaker at `clock` and returns when it will stop being open.
fn trip(b: &mut Breaker, clock: &ManualClock) -> u64 {
    record_n(b, clock, PARAMS.min_requests, false);
    match b.state(clock.now_ms()) {
        BreakerState::Open { until_ms } => until_ms,
        other => panic!("expected open, got {other:?}"),
    }
}

#[test]
fn stays_closed_below_min_requests_even_at_100_percent_errors() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    record_n(&mut b, &clock, PARAMS.min_requests - 1, false);
    assert_eq!(b.state(clock.now_ms()), BreakerState::Closed);
    assert_eq!(b.counts(clock.now_ms()), (0, 9));
    assert!(b.is_available(clock.now_ms()));
}

#[test]
fn opens_at_exactly_the_threshold() {
    let clock = ManualClock::new(1_000);
    let mut b = Breaker::new(PARAMS);
    // 4 failures + 5 successes = 9 requests, 44 %: closed.
    record_n(&mut b, &clock, 4, false);
    record_n(&mut b, &clock, 5, true);
    assert_eq!(b.state(1_000), BreakerState::Closed);
    // The 10th, a failure, makes 5/10 = 50 % = error_rate: open.
    record_n(&mut b, &clock, 1, false);
    assert_eq!(b.state(1_000), BreakerState::Open { until_ms: 6_000 });
    assert_eq!(b.try_acquire(1_000), Admission::Rejected);
    assert!(!b.is_available(1_000));
}

#[test]
fn just_under_the_threshold_stays_closed() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    record_n(&mut b, &clock, 4, false);
    record_n(&mut b, &clock, 6, true);
    assert_eq!(b.counts(0), (6, 4));
    assert_eq!(b.state(0), BreakerState::Closed);
}

#[test]
fn a_success_that_reaches_min_requests_can_open_it() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    record_n(&mut b, &clock, 5, false);
    record_n(&mut b, &clock, 5, true);
    assert!(matches!(b.state(0), BreakerState::Open { .. }));
}

#[test]
fn old_failures_expire_out_of_the_window() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    record_n(&mut b, &clock, 9, false);
    clock.advance(PARAMS.window_ms);
    assert_eq!(b.counts(clock.now_ms()), (0, 0));
    // Had the nine stayed, one more failure would open it.
    record_n(&mut b, &clock, 1, false);
    assert_eq!(b.state(clock.now_ms()), BreakerState::Closed);
    assert_eq!(b.counts(clock.now_ms()), (0, 1));
}

#[test]
fn failures_spread_across_the_window_still_count() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    for _ in 0..PARAMS.min_requests {
        record_n(&mut b, &clock, 1, false);
        clock.advance(900);
    }
    // The first was recorded 9 000 ms ago at the 10th: still inside 10 s.
    assert!(matches!(b.state(clock.now_ms()), BreakerState::Open { .. }));
}

#[test]
fn open_rejects_until_open_ms_then_admits_exactly_the_probe_slots() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    assert_eq!(until, PARAMS.open_ms);

    clock.set(until - 1);
    assert_eq!(b.try_acquire(clock.now_ms()), Admission::Rejected);
    assert!(!b.is_available(clock.now_ms()));

    clock.set(until);
    assert_eq!(b.state(until), BreakerState::HalfOpen);
    assert!(b.is_available(until), "open past its deadline is available");
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert!(b.is_available(until));
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert!(!b.is_available(until), "both probe slots taken");
    assert_eq!(b.try_acquire(until), Admission::Rejected);
}

#[test]
fn successful_probes_close_it_with_a_clean_window() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    clock.set(until);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    b.record(until + 10, true, true);
    assert_eq!(
        b.state(until + 10),
        BreakerState::HalfOpen,
        "one success of two"
    );
    b.record(until + 20, true, true);
    assert_eq!(b.state(until + 20), BreakerState::Closed);
    assert_eq!(b.counts(until + 20), (0, 0));
    assert_eq!(b.try_acquire(until + 20), Admission::Allowed);
}

#[test]
fn probes_succeeding_one_at_a_time_also_close_it() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    for _ in 0..PARAMS.half_open_probes {
        assert_eq!(b.try_acquire(until), Admission::Probe);
        b.record(until, true, true);
    }
    assert_eq!(b.state(until), BreakerState::Closed);
}

#[test]
fn one_failed_probe_reopens_it() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    b.record(until, true, true);
    b.record(until + 100, false, true);
    let reopened = until + 100 + PARAMS.open_ms;
    assert_eq!(
        b.state(until + 100),
        BreakerState::Open { until_ms: reopened }
    );
    assert_eq!(b.try_acquire(reopened - 1), Admission::Rejected);
    // The next half-open period starts from scratch: two fresh slots.
    assert_eq!(b.try_acquire(reopened), Admission::Probe);
    assert_eq!(b.try_acquire(reopened), Admission::Probe);
    assert_eq!(b.try_acquire(reopened), Admission::Rejected);
}

#[test]
fn release_probe_frees_a_slot() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert_eq!(b.try_acquire(until), Admission::Rejected);
    b.release_probe();
    assert!(b.is_available(until));
    assert_eq!(b.try_acquire(until), Admission::Probe);
    // A released probe is not a success: two real ones are still needed.
    b.record(until, true, true);
    assert_eq!(b.state(until), BreakerState::HalfOpen);
    b.record(until, true, true);
    assert_eq!(b.state(until), BreakerState::Closed);
}

#[test]
fn release_probe_outside_half_open_changes_nothing() {
    let mut b = Breaker::new(PARAMS);
    b.release_probe();
    assert_eq!(b.state(0), BreakerState::Closed);
    assert_eq!(b.try_acquire(0), Admission::Allowed);
}

#[test]
fn late_outcomes_of_ordinary_requests_do_not_decide_half_open() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    b.record(until - 1, false, false);
    assert_eq!(b.state(until - 1), BreakerState::Open { until_ms: until });
    assert_eq!(b.try_acquire(until), Admission::Probe);
    b.record(until, false, false);
    b.record(until, true, false);
    assert_eq!(b.state(until), BreakerState::HalfOpen);
}

#[test]
fn set_params_keeps_state() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    let until = trip(&mut b, &clock);
    let reloaded = BreakerParams {
        open_ms: 60_000,
        half_open_probes: 1,
        ..PARAMS
    };
    b.set_params(reloaded);
    assert_eq!(b.state(0), BreakerState::Open { until_ms: until });
    // The new probe count applies from here on.
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert_eq!(b.try_acquire(until), Admission::Rejected);
    b.record(until, true, true);
    assert_eq!(b.state(until), BreakerState::Closed);
}

#[test]
fn set_params_keeps_the_window_counts() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    record_n(&mut b, &clock, 6, false);
    b.set_params(BreakerParams {
        window_ms: 20_000,
        min_requests: 7,
        ..PARAMS
    });
    assert_eq!(b.counts(0), (0, 6));
    record_n(&mut b, &clock, 1, false);
    assert!(matches!(b.state(0), BreakerState::Open { .. }));
}

#[test]
fn zero_probes_is_treated_as_one() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(BreakerParams {
        half_open_probes: 0,
        ..PARAMS
    });
    let until = trip(&mut b, &clock);
    assert_eq!(b.try_acquire(until), Admission::Probe);
    assert_eq!(b.try_acquire(until), Admission::Rejected);
    b.record(until, true, true);
    assert_eq!(b.state(until), BreakerState::Closed);
}

#[test]
fn zero_error_rate_opens_on_failures_only() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(BreakerParams {
        error_rate: 0.0,
        ..PARAMS
    });
    record_n(&mut b, &clock, 20, true);
    assert_eq!(b.state(0), BreakerState::Closed);
    record_n(&mut b, &clock, 1, false);
    assert!(matches!(b.state(0), BreakerState::Open { .. }));
}

#[test]
fn admit_anyway_turns_an_open_breaker_into_a_probe_early() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    trip(&mut b, &clock);
    let now = clock.now_ms();
    assert_eq!(b.try_acquire(now), Admission::Rejected);
    assert_eq!(b.admit_anyway(now), Admission::Probe);
    assert_eq!(b.state(now), BreakerState::HalfOpen);
    // The second probe slot is ordinary; past it, requests pass uncounted.
    assert_eq!(b.admit_anyway(now), Admission::Probe);
    assert_eq!(b.admit_anyway(now), Admission::Allowed);
    b.record(now, true, false);
    assert_eq!(b.state(now), BreakerState::HalfOpen);
    b.record(now, true, true);
    b.record(now, true, true);
    assert_eq!(b.state(now), BreakerState::Closed);
}

#[test]
fn a_failed_panic_probe_reopens_for_a_full_period() {
    let clock = ManualClock::new(0);
    let mut b = Breaker::new(PARAMS);
    trip(&mut b, &clock);
    clock.advance(1_000);
    let now = clock.now_ms();
    assert_eq!(b.admit_anyway(now), Admission::Probe);
    b.record(now, false, true);
    assert_eq!(
        b.state(now),
        BreakerState::Open {
            until_ms: now + PARAMS.open_ms
        }
    );
}
