//! Budgets: spent within a UTC period, full again at the next one.

use super::*;
use crate::governance::types::days_from_civil;

#[test]
fn a_daily_budget_resets_at_utc_midnight_and_says_when() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("day", 1_000, Refill::Period(Period::Day)));
    limiter.tick(0, NOON, &mut source);
    assert_eq!(b.status().reset_ms, DAY_MS / 2);
    assert_eq!(drain(&b, 10, Priority::Standard), 1_000);

    let evening = NOON + 6 * 3_600_000;
    limiter.tick(1_000, evening, &mut source);
    assert_eq!(
        drain(&b, 10, Priority::Standard),
        0,
        "no refill within the day"
    );
    let d = b.try_take(10, Priority::Standard).unwrap_err();
    assert_eq!(d.retry_after_ms, 6 * 3_600_000, "until midnight");
    assert_eq!((d.remaining, d.reset_ms), (0, 6 * 3_600_000));

    let next_day = NOON + DAY_MS / 2 + 1_000;
    limiter.tick(2_000, next_day, &mut source);
    assert_eq!(b.status().remaining, 1_000);
    assert_eq!(drain(&b, 10, Priority::Standard), 1_000);
}

#[test]
fn unspent_budget_does_not_carry_into_the_next_period() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("day", 1_000, Refill::Period(Period::Day)));
    limiter.tick(0, NOON, &mut source);
    b.try_take(400, Priority::Standard).unwrap();
    limiter.tick(1_000, NOON + DAY_MS, &mut source);
    assert_eq!(
        drain(&b, 1, Priority::Standard),
        1_000,
        "a fresh 1 000, not 1 600"
    );
}

#[test]
fn a_monthly_budget_resets_on_the_first_and_a_stepped_back_clock_reopens_nothing() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("month", 500, Refill::Period(Period::Month)));
    let jan_31 = days_from_civil(2026, 1, 31) as u64 * DAY_MS;
    let feb_1 = days_from_civil(2026, 2, 1) as u64 * DAY_MS;
    limiter.tick(0, jan_31, &mut source);
    assert_eq!(b.status().reset_ms, DAY_MS);
    assert_eq!(drain(&b, 1, Priority::Standard), 500);
    limiter.tick(1, feb_1, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 500);
    limiter.tick(2, jan_31, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 0);
}

#[test]
fn a_total_budget_never_resets() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("total", 100, Refill::Period(Period::Total)));
    limiter.tick(0, NOON, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 100);
    limiter.tick(1, NOON + 400 * DAY_MS, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 0);
    assert_eq!(b.status().reset_ms, NEVER);
}

#[test]
fn spend_charged_for_a_new_day_counts_against_that_day() {
    let limiter = Limiter::new(2);
    let mut source = LocalSource::new();
    let b = limiter.define(spec("day", 1_000, Refill::Period(Period::Day)));
    limiter.tick(0, NOON, &mut source);
    let tomorrow = (NOON / DAY_MS + 1) as i64;
    source.charge(&b.spec(), 250, tomorrow).unwrap();
    limiter.tick(1, NOON + DAY_MS, &mut source);
    assert_eq!(drain(&b, 1, Priority::Standard), 750);
}
