//! Per-core workers: one pinned thread per core, each with its own monoio
//! runtime (io_uring or epoll) and its own `SO_REUSEPORT` listener; plus the
//! shutdown flag they watch and drain on.

mod contain;
mod fds;
mod listener;
mod memory;
pub mod published;
mod worker;

pub use fds::raise_nofile_limit;
pub use listener::bind_listeners;
pub use memory::use_small_pages;
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

/// The CPUs this process may run on (its affinity mask), in order. Workers
/// are pinned to these, so a gateway started under `taskset` or in a
/// cpuset-limited container lands on its own CPUs, not on CPU 0.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity
    // writes at most size_of::<cpu_set_t>() bytes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
            == 0;
    let cpus: Vec<usize> = if ok {
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect()
    } else {
        Vec::new()
    };
    if cpus.is_empty() {
        (0..available_cores()).collect()
    } else {
        cpus
    }
}
