//! File descriptors: the open-files limit raised at start, and the accept
//! loop's back-off when the limit is reached anyway (as nginx and Envoy do:
//! stop accepting for a while and say so once per interval, not per attempt).

use std::time::{Duration, Instant};

const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Raises the soft RLIMIT_NOFILE to the hard limit; answers (before, after).
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((before, lim.rlim_cur))
}

/// Whether an accept failed for want of descriptors or kernel memory: the
/// listener will fail the same way until something closes, so wait.
pub fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The accept loop's state after failures: how long to wait before the
/// next accept (50 ms doubling to 1 s) and when to log.
#[derive(Debug)]
pub struct AcceptBackoff {
    delay: Duration,
    unlogged: u64,
    last_log: Option<Instant>,
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            unlogged: 0,
            last_log: None,
        }
    }
}

impl AcceptBackoff {
    /// An accept failed at `now`: answers the wait before the next one, and
    /// the count of failures to log now (`None` within a quiet interval).
    pub fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        self.delay = if self.delay.is_zero() {
            FIRST_DELAY
        } else {
            (self.delay * 2).min(MAX_DELAY)
        };
        self.unlogged += 1;
        let due = self
            .last_log
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        let log = due.then(|| {
            self.last_log = Some(now);
            std::mem::take(&mut self.unlogged)
        });
        (self.delay, log)
    }

    /// An accept succeeded: the next failure starts from the shortest wait.
    pub fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_a_ceiling_and_reset_on_success() {
        let mut b = AcceptBackoff::default();
        let t = Instant::now();
        let delays: Vec<u64> = (0..7).map(|_| b.failed(t).0.as_millis() as u64).collect();
        assert_eq!(delays, [50, 100, 200, 400, 800, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(t).0, FIRST_DELAY);
    }

    #[test]
    fn logs_once_per_interval_with_the_count() {
        let mut b = AcceptBackoff::default();
        let t = Instant::now();
        assert_eq!(b.failed(t).1, Some(1));
        for i in 1..100 {
            assert_eq!(b.failed(t + Duration::from_millis(i * 50)).1, None);
        }
        assert_eq!(b.failed(t + LOG_EVERY).1, Some(100));
        assert_eq!(b.failed(t + LOG_EVERY + Duration::from_secs(1)).1, None);
    }
}
