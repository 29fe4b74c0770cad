//! Per-core keep-alive pools, one stack of idle connections per origin. Each
//! worker thread has its own: nothing here is shared between cores.

use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use super::{Origin, Transport};

/// An idle connection older than this is dropped rather than reused: servers
/// commonly close keep-alive connections after 60–120 s.
const MAX_IDLE_AGE: Duration = Duration::from_secs(50);

/// An idle connection, its read buffer, and since when it idles.
type Idle = (Transport, Vec<u8>, Instant);

thread_local! {
    static POOL: RefCell<FxHashMap<Origin, Vec<Idle>>> = RefCell::new(FxHashMap::default());
    static OPENED: Cell<u64> = const { Cell::new(0) };
    static REUSED: Cell<u64> = const { Cell::new(0) };
}

/// Takes the most recently used idle connection to `origin`, if any, with
/// its read buffer (kept with the connection so it is not allocated anew).
pub(super) fn checkout(origin: &Origin) -> Option<(Transport, Vec<u8>)> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let idle = pool.get_mut(origin)?;
        let now = Instant::now();
        while let Some((conn, buf, since)) = idle.pop() {
            if now.duration_since(since) < MAX_IDLE_AGE {
                REUSED.with(|c| c.set(c.get() + 1));
                return Some((conn, buf));
            }
        }
        None
    })
}

pub(super) fn checkin(origin: &Origin, conn: Transport, mut buf: Vec<u8>, max_idle: usize) {
    buf.clear();
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let idle = pool.entry(origin.clone()).or_default();
        if idle.len() < max_idle {
            idle.push((conn, buf, Instant::now()));
        }
    });
}

pub(super) fn note_opened() {
    OPENED.with(|c| c.set(c.get() + 1));
}

/// This core's counts: (connections opened, reuses, idle now).
pub fn pool_stats() -> (u64, u64, usize) {
    let idle = POOL.with(|p| p.borrow().values().map(Vec::len).sum());
    (OPENED.with(Cell::get), REUSED.with(Cell::get), idle)
}
