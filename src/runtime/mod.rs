//! Per-core workers: one pinned thread per core, each with its own monoio
//! runtime (io_uring or epoll) and its own `SO_REUSEPORT` listener; plus the
//! shutdown flag they watch and drain on.

mod contain;
mod listener;
mod worker;

pub use listener::bind_listeners;
pub use worker::{Driver, WorkerSet, spawn_workers};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Process-wide lifecycle flags, read off the request path.
#[derive(Default)]
pub struct Lifecycle {
    shutting_down: AtomicBool,
    workers_up: AtomicUsize,
    workers_total: AtomicUsize,
}

impl Lifecycle {
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Ready: every worker is accepting and no shutdown has begun.
    pub fn is_ready(&self) -> bool {
        let total = self.workers_total.load(Ordering::Relaxed);
        total > 0 && self.workers_up.load(Ordering::Relaxed) == total && !self.is_shutting_down()
    }
}

pub fn lifecycle() -> &'static Lifecycle {
    static LIFECYCLE: std::sync::OnceLock<Lifecycle> = std::sync::OnceLock::new();
    LIFECYCLE.get_or_init(Lifecycle::default)
}

/// Number of workers for `workers = 0`: one per core this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
