//! The breaker's sliding window: success and failure counts over the last
//! `window_ms`, kept in a fixed ring of time buckets.
//!
//! # Mechanics
//!
//! Time is cut into buckets of `bucket_ms = ceil(window_ms / BUCKETS)`. A
//! reading at `now_ms` belongs to bucket number `epoch = now_ms / bucket_ms`,
//! which lives in ring slot `epoch % BUCKETS`. Each slot remembers the epoch
//! its counts belong to, so:
//!
//! - **Recording** looks at the slot for the current epoch. If the slot still
//!   holds an older epoch, that data is exactly `BUCKETS` (or a multiple)
//!   buckets old — out of the window — so the slot is zeroed and taken over.
//! - **Reading** sums only slots whose epoch lies in `(now_epoch - BUCKETS,
//!   now_epoch]`. A slot nobody has written to for a while is skipped without
//!   being touched, which is why reading needs no `&mut self` and why idle
//!   periods of any length cost nothing: there is no timer and no sweep.
//!
//! The window therefore covers the current, partly elapsed bucket plus the
//! `BUCKETS - 1` before it: between `window_ms - bucket_ms` and `window_ms` of
//! history. An outcome leaves the window all at once when its bucket expires,
//! not at the exact millisecond it becomes `window_ms` old; with ten buckets
//! the error is at most a tenth of the window, and the ring stays a fixed
//! 10 × 16 bytes with O(BUCKETS) reads and O(1) writes.

/// Ring size: the window's resolution is a tenth of its length.
pub(super) const BUCKETS: usize = 10;

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    epoch: u64,
    successes: u32,
    failures: u32,
}

/// Success and failure counts over a sliding window of time.
#[derive(Clone, Debug)]
pub(super) struct BreakerWindow {
    bucket_ms: u64,
    ring: [Bucket; BUCKETS],
}

impl BreakerWindow {
    pub(super) fn new(window_ms: u64) -> Self {
        Self {
            bucket_ms: bucket_ms(window_ms),
            ring: [Bucket::default(); BUCKETS],
        }
    }

    pub(super) fn record(&mut self, now_ms: u64, success: bool) {
        let epoch = now_ms / self.bucket_ms;
        let bucket = &mut self.ring[slot(epoch)];
        if bucket.epoch != epoch {
            *bucket = Bucket {
                epoch,
                ..Bucket::default()
            };
        }
        if success {
            bucket.successes = bucket.successes.saturating_add(1);
        } else {
            bucket.failures = bucket.failures.saturating_add(1);
        }
    }

    /// `(successes, failures)` still inside the window at `now_ms`.
    pub(super) fn counts(&self, now_ms: u64) -> (u32, u32) {
        let now_epoch = now_ms / self.bucket_ms;
        self.ring
            .iter()
            .filter(|b| in_window(b.epoch, now_epoch))
            .fold((0u32, 0u32), |(s, f), b| {
                (s.saturating_add(b.successes), f.saturating_add(b.failures))
            })
    }

    pub(super) fn clear(&mut self) {
        self.ring = [Bucket::default(); BUCKETS];
    }

    /// Re-cuts the ring for a new window length, keeping the outcomes that
    /// are still recent enough: a config reload should not forget that an
    /// upstream has been failing.
    pub(super) fn resize(&mut self, window_ms: u64) {
        let new_bucket_ms = bucket_ms(window_ms);
        if new_bucket_ms == self.bucket_ms {
            return;
        }
        let mut old = self.ring;
        // Oldest first, so a newer bucket landing on the same slot replaces
        // an older one rather than the other way round.
        old.sort_unstable_by_key(|b| b.epoch);
        let mut resized = Self::new(window_ms);
        for b in old.iter().filter(|b| b.successes > 0 || b.failures > 0) {
            let start_ms = b.epoch.saturating_mul(self.bucket_ms);
            let epoch = start_ms / new_bucket_ms;
            let target = &mut resized.ring[slot(epoch)];
            if target.epoch != epoch {
                *target = Bucket {
                    epoch,
                    ..Bucket::default()
                };
            }
            target.successes = target.successes.saturating_add(b.successes);
            target.failures = target.failures.saturating_add(b.failures);
        }
        *self = resized;
    }
}

fn bucket_ms(window_ms: u64) -> u64 {
    window_ms.div_ceil(BUCKETS as u64).max(1)
}

fn slot(epoch: u64) -> usize {
    (epoch % BUCKETS as u64) as usize
}

/// An epoch from the future (a reading taken slightly out of order) still
/// counts: dropping fresh data would be the worse mistake.
fn in_window(epoch: u64, now_epoch: u64) -> bool {
    now_epoch.saturating_sub(epoch) < BUCKETS as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_expire_bucket_by_bucket() {
        // 1 s window → 100 ms buckets.
        let mut w = BreakerWindow::new(1_000);
        w.record(0, false);
        w.record(150, true);
        assert_eq!(w.counts(150), (1, 1));
        // At 999 ms bucket 0 is still the oldest of ten.
        assert_eq!(w.counts(999), (1, 1));
        // At 1000 ms bucket 0 (0..100 ms) has left; bucket 1 has not.
        assert_eq!(w.counts(1_000), (1, 0));
        assert_eq!(w.counts(1_100), (0, 0));
    }

    #[test]
    fn a_reused_slot_forgets_its_old_epoch() {
        let mut w = BreakerWindow::new(1_000);
        w.record(50, false);
        // Same slot (epoch 10 % 10 == 0), ten buckets later.
        w.record(1_050, true);
        assert_eq!(w.counts(1_050), (1, 0));
    }

    #[test]
    fn long_idle_periods_leave_nothing_behind() {
        let mut w = BreakerWindow::new(1_000);
        for t in 0..10 {
            w.record(t * 100, false);
        }
        assert_eq!(w.counts(999), (0, 10));
        assert_eq!(w.counts(1_000_000), (0, 0));
    }

    #[test]
    fn tiny_windows_still_have_one_ms_buckets() {
        let mut w = BreakerWindow::new(0);
        w.record(5, false);
        assert_eq!(w.counts(5), (0, 1));
        assert_eq!(w.counts(15), (0, 0));
    }

    #[test]
    fn resize_keeps_recent_outcomes() {
        let mut grown = BreakerWindow::new(1_000);
        grown.record(100, false);
        grown.record(900, false);
        grown.record(950, true);
        grown.resize(10_000);
        assert_eq!(grown.counts(950), (1, 2));
        assert_eq!(
            grown.counts(9_999),
            (1, 2),
            "the longer window still holds them"
        );

        // Shrinking drops what no longer fits: a 500 ms window at 950 ms
        // reaches back to the 900 ms bucket, not to 100 ms.
        let mut shrunk = BreakerWindow::new(1_000);
        shrunk.record(100, false);
        shrunk.record(900, false);
        shrunk.record(950, true);
        shrunk.resize(500);
        assert_eq!(shrunk.counts(950), (1, 1));
    }
}
