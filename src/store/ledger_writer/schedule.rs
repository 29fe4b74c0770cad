//! When the ledger writer commits: as soon as a full batch is pending, or
//! `interval` after the oldest pending row arrived; after a failed commit,
//! not before a doubling back-off, so a store that keeps failing is neither
//! hammered per row nor given up on.

use crate::resilience::backoff_ms;

/// The longest wait between two attempts at a failing store.
const MAX_RETRY_MS: u64 = 5_000;

#[derive(Debug)]
pub(super) struct Schedule {
    max_batch: usize,
    interval_ms: u64,
    /// When the pending rows must be committed; `None` while none are pending.
    due_ms: Option<u64>,
    /// Failed attempts since the last successful commit.
    failures: u32,
}

impl Schedule {
    pub(super) fn new(max_batch: usize, interval_ms: u64) -> Schedule {
        Schedule {
            max_batch: max_batch.max(1),
            interval_ms,
            due_ms: None,
            failures: 0,
        }
    }

    /// A row joined the pending rows, of which there are now `pending`.
    /// True: commit now. A failing store waits for its retry instead.
    pub(super) fn row_added(&mut self, now_ms: u64, pending: usize) -> bool {
        self.due_ms
            .get_or_insert(now_ms.saturating_add(self.interval_ms));
        self.failures == 0 && pending >= self.max_batch
    }

    /// How long the writer may wait for more rows before it must commit;
    /// `None`: nothing is pending, wait for the next message however long.
    pub(super) fn wait_ms(&self, now_ms: u64) -> Option<u64> {
        self.due_ms.map(|due| due.saturating_sub(now_ms))
    }

    /// Every pending row is committed.
    pub(super) fn committed(&mut self) {
        self.due_ms = None;
        self.failures = 0;
    }

    /// A commit failed and its rows are kept; returns how long until the retry.
    pub(super) fn failed(&mut self, now_ms: u64) -> u64 {
        let delay = backoff_ms(self.failures, self.interval_ms.max(1), MAX_RETRY_MS, 1.0);
        self.failures = self.failures.saturating_add(1);
        self.due_ms = Some(now_ms.saturating_add(delay));
        delay
    }

    pub(super) fn failures(&self) -> u32 {
        self.failures
    }

    pub(super) fn max_batch(&self) -> usize {
        self.max_batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_batch_commits_at_once_and_a_partial_one_at_the_interval() {
        let mut s = Schedule::new(3, 50);
        assert_eq!(s.wait_ms(1_000), None, "nothing pending: no deadline");
        assert!(!s.row_added(1_000, 1));
        assert_eq!(s.wait_ms(1_000), Some(50));
        assert!(!s.row_added(1_020, 2));
        assert_eq!(
            s.wait_ms(1_020),
            Some(30),
            "the oldest row sets the deadline"
        );
        assert!(s.row_added(1_030, 3), "a full batch commits now");
        s.committed();
        assert_eq!(s.wait_ms(1_030), None);
        assert_eq!(s.wait_ms(5_000), None);
    }

    #[test]
    fn a_late_wake_is_due_at_once() {
        let mut s = Schedule::new(100, 50);
        s.row_added(0, 1);
        assert_eq!(s.wait_ms(80), Some(0));
    }

    #[test]
    fn failures_back_off_doubling_to_a_cap_and_success_resets() {
        let mut s = Schedule::new(2, 50);
        s.row_added(0, 1);
        assert_eq!(s.failed(50), 50);
        assert_eq!(s.wait_ms(50), Some(50));
        assert!(
            !s.row_added(60, 5),
            "a failing store is not retried for every row"
        );
        assert_eq!(s.wait_ms(60), Some(40), "rows do not move the retry");
        assert_eq!(s.failed(100), 100);
        assert_eq!(s.failed(200), 200);
        let mut last = 0;
        for _ in 0..20 {
            last = s.failed(1_000);
        }
        assert_eq!(last, MAX_RETRY_MS);
        assert_eq!(s.failures(), 23);
        s.committed();
        assert_eq!(s.failures(), 0);
        assert!(!s.row_added(2_000, 1));
        assert!(s.row_added(2_001, 2), "full batches commit at once again");
    }

    #[test]
    fn a_zero_batch_size_means_one() {
        let mut s = Schedule::new(0, 0);
        assert_eq!(s.max_batch(), 1);
        assert!(s.row_added(0, 1));
        assert_eq!(s.failed(0), 1, "a zero interval still backs off");
    }
}
