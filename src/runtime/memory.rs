//! Giving memory back to the system after a burst. mimalloc keeps freed
//! pages for reuse and purges them lazily, on later allocation work: a
//! worker that goes quiet after a burst of large bodies would hold them.

use std::time::Duration;

use crate::server::WorkerGauge;

/// Released bytes (bodies and shrunk buffers) that make a collection worth it.
const COLLECT_AFTER: usize = 8 * 1024 * 1024;
const CHECK_EVERY: Duration = Duration::from_secs(1);

unsafe extern "C" {
    /// mimalloc's own collection of free memory (linked in with the
    /// `mimalloc` crate, which the binary uses as its global allocator).
    fn mi_collect(force: bool);
}

/// Runs on each worker: at most once a second, and only after a burst
/// released enough memory, asks the allocator to return its free pages.
pub async fn collect_after_bursts(gauge: std::rc::Rc<WorkerGauge>) {
    loop {
        monoio::time::sleep(CHECK_EVERY).await;
        if gauge.released.get() >= COLLECT_AFTER {
            gauge.released.set(0);
            // SAFETY: mi_collect takes no pointers and may be called from any
            // thread at any time; it only frees what the allocator holds unused.
            unsafe { mi_collect(true) };
        }
    }
}
