//! The routing snapshot: the model table and resolved providers, built from a
//! validated config and swapped atomically on reload (every core reads the
//! current one through `ArcSwap`; in-flight requests keep the one they began with).

pub mod decide;
pub mod health;
pub mod plan;
mod provider;
pub mod report;
mod snapshot;

pub use provider::{Provider, ProviderState, read_secret, toml_to_json};
pub use snapshot::{ClientKey, Deployment, ModelRoute, Snapshot};

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

static CURRENT: OnceLock<ArcSwap<Snapshot>> = OnceLock::new();

/// Installs the first snapshot, or swaps in a new one.
pub fn publish(snapshot: Snapshot) {
    let snapshot = Arc::new(snapshot);
    match CURRENT.get() {
        Some(current) => current.store(snapshot),
        None => {
            if let Err(s) = CURRENT.set(ArcSwap::new(snapshot.clone())) {
                s.store(snapshot);
            }
        }
    }
}

/// One core's hold on a snapshot; cloned per request without atomics.
pub struct CoreSnapshot(Arc<Snapshot>);

impl std::ops::Deref for CoreSnapshot {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        &self.0
    }
}

/// Re-resolves provider host names and, if any address changed, publishes a
/// rebuilt snapshot — unless a reload published a newer one meanwhile.
/// Runs on a background thread: resolution blocks.
pub fn refresh_addresses() -> bool {
    let Some(shared) = CURRENT.get() else {
        return false;
    };
    let old = shared.load_full();
    let fresh = Snapshot::build(old.config.clone(), old.generation);
    if fresh.same_addresses(&old) {
        return false;
    }
    let prev = shared.compare_and_swap(&old, Arc::new(fresh));
    Arc::ptr_eq(&prev, &old)
}

/// The snapshot in force now, as this core's handle. Cloning the shared
/// `Arc` on every request would bounce its reference count between cores;
/// instead each core keeps one clone behind an `Rc` and only checks, with a
/// plain atomic load, whether a reload has published a newer one.
pub fn current() -> Rc<CoreSnapshot> {
    thread_local! {
        static LOCAL: RefCell<Option<Rc<CoreSnapshot>>> = const { RefCell::new(None) };
    }
    let shared = CURRENT
        .get()
        .expect("router snapshot published before serving");
    let latest = shared.load();
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        match &*local {
            Some(mine) if Arc::ptr_eq(&mine.0, &latest) => mine.clone(),
            _ => {
                let fresh = Rc::new(CoreSnapshot(Arc::clone(&latest)));
                *local = Some(fresh.clone());
                fresh
            }
        }
    })
}

#[cfg(test)]
mod tests;
