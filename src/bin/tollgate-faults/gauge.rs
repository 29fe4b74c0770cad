//! Sampling a process's resident memory and open fds while a scenario runs:
//! the start, the peak, and the end once the load has gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::procs::{fd_count, rss_kib};

const EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    pub rss_start: u64,
    pub rss_peak: u64,
    pub rss_end: u64,
    pub fd_start: u64,
    pub fd_peak: u64,
    pub fd_end: u64,
}

impl Figures {
    pub fn rss_growth_mib(&self) -> f64 {
        self.rss_peak.saturating_sub(self.rss_start) as f64 / 1024.0
    }

    pub fn rss_kept_mib(&self) -> f64 {
        self.rss_end.saturating_sub(self.rss_start) as f64 / 1024.0
    }

    pub fn render(&self) -> String {
        let mib = |k: u64| k as f64 / 1024.0;
        format!(
            "rss_mib={:.1}/{:.1}/{:.1} fds={}/{}/{}",
            mib(self.rss_start),
            mib(self.rss_peak),
            mib(self.rss_end),
            self.fd_start,
            self.fd_peak,
            self.fd_end
        )
    }
}

/// Samples `pid` every 50 ms from `start` until `finish`.
pub struct Gauge {
    pid: u32,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(u64, u64)>>,
    rss_start: u64,
    fd_start: u64,
}

impl Gauge {
    pub fn start(pid: u32) -> Gauge {
        let (rss_start, fd_start) = (rss_kib(pid), fd_count(pid));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut rss, mut fds) = (rss_start, fd_start);
            while !flag.load(Ordering::Relaxed) {
                rss = rss.max(rss_kib(pid));
                fds = fds.max(fd_count(pid));
                std::thread::sleep(EVERY);
            }
            (rss, fds)
        });
        Gauge {
            pid,
            stop,
            thread: Some(thread),
            rss_start,
            fd_start,
        }
    }

    /// Stops sampling and reads the end figures.
    pub fn stop(mut self) -> Figures {
        // Give the allocator a moment to return what it frees with the last close.
        std::thread::sleep(Duration::from_millis(500));
        self.stop.store(true, Ordering::Relaxed);
        let (rss_peak, fd_peak) = self.thread.take().unwrap().join().unwrap();
        let (rss_end, fd_end) = (rss_kib(self.pid), fd_count(self.pid));
        Figures {
            rss_start: self.rss_start,
            rss_peak: rss_peak.max(rss_end),
            rss_end,
            fd_start: self.fd_start,
            fd_peak: fd_peak.max(fd_end),
            fd_end,
        }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
