//! Keeping the resident set small: small pages for the heap, and memory
//! given back to the system after a burst (mimalloc keeps freed pages for
//! reuse and purges them lazily, on later allocation work: a worker that goes
//! quiet after a burst of large bodies would hold them).

use std::time::Duration;

use crate::server::WorkerGauge;

/// Released bytes (bodies and shrunk buffers) that make a collection worth
/// it while requests run, and once the worker is quiet.
const COLLECT_AFTER: usize = 8 * 1024 * 1024;
const COLLECT_WHEN_QUIET: usize = 1024 * 1024;
const CHECK_EVERY: Duration = Duration::from_secs(1);

unsafe extern "C" {
    /// mimalloc's own collection of free memory (linked in with the
    /// `mimalloc` crate, which the binary uses as its global allocator).
    fn mi_collect(force: bool);
}

/// Asks the kernel for no transparent huge pages in this process. A huge
/// page makes each thread's first heap page cost 2 MiB of resident memory
/// where a few KiB are used (10 of an idle gateway's 16 MiB); a gateway's
/// small, scattered heap gains little from them. mimalloc is built without
/// its huge-page advice (`no_thp`), which covers kernels in `madvise` mode;
/// this covers `always` mode, from the first page fault after the call on.
pub fn use_small_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and affects
    // nothing but page-fault policy for this process.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Runs on each worker: at most once a second, after a burst released
/// enough memory or once the worker has gone quiet after releasing some,
/// asks the allocator to return its free pages.
pub async fn collect_after_bursts(gauge: std::rc::Rc<WorkerGauge>) {
    loop {
        monoio::time::sleep(CHECK_EVERY).await;
        let released = gauge.released.get();
        if released >= COLLECT_AFTER
            || (released >= COLLECT_WHEN_QUIET && gauge.in_flight.get() == 0)
        {
            gauge.released.set(0);
            // SAFETY: mi_collect takes no pointers and may be called from any
            // thread at any time; it only frees what the allocator holds unused.
            unsafe { mi_collect(true) };
        }
    }
}
