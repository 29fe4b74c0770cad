//! Milliseconds on a monotonic scale: the real clock for the gateway and a
//! manual one so time-dependent logic is tested without sleeping.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Instant;

/// A source of monotonic milliseconds. Only differences between readings
/// mean anything; the origin is arbitrary.
pub trait Clock {
    fn now_ms(&self) -> u64;
}

/// Milliseconds since a process-wide start instant, so readings taken on
/// different cores are on one scale and can be compared.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Clock for MonotonicClock {
    fn now_ms(&self) -> u64 {
        // u64 milliseconds outlast any process; the cast cannot truncate in practice.
        process_start().elapsed().as_millis() as u64
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock(Cell<u64>);

impl ManualClock {
    pub fn new(start: u64) -> Self {
        Self(Cell::new(start))
    }

    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get().saturating_add(ms));
    }

    pub fn set(&self, ms: u64) {
        self.0.set(ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

/// Wall-clock Unix seconds (response `created` fields, HTTP dates); 0 if the
/// system clock is before the epoch.
pub fn unix_secs() -> u64 {
    unix_millis() / 1000
}

/// Wall-clock Unix milliseconds; 0 if the system clock is before the epoch.
/// Read straight from `clock_gettime`: every governed request stamps its
/// ledger row, and `SystemTime`'s checked subtraction from the epoch cost
/// more than the clock read itself.
pub fn unix_millis() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME exists on
    // every system this runs on, and the call writes nothing else.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    match (read, u64::try_from(ts.tv_sec), u64::try_from(ts.tv_nsec)) {
        (0, Ok(secs), Ok(nanos)) => secs * 1000 + nanos / 1_000_000,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(250);
        assert_eq!(clock.now_ms(), 1_250);
        clock.set(7);
        assert_eq!(clock.now_ms(), 7);
        clock.set(u64::MAX);
        clock.advance(1);
        assert_eq!(
            clock.now_ms(),
            u64::MAX,
            "advance saturates instead of wrapping"
        );
    }

    #[test]
    fn monotonic_clock_never_goes_back() {
        let clock = MonotonicClock;
        let a = clock.now_ms();
        let b = clock.now_ms();
        assert!(b >= a);
    }

    #[test]
    fn unix_millis_reads_the_system_clock() {
        let millis = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        };
        let before = millis();
        let ours = unix_millis();
        let after = millis();
        assert!(before <= ours && ours <= after, "{before} {ours} {after}");
    }
}
