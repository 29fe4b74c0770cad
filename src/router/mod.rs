//! The routing snapshot: the model table and resolved providers, built from a
//! validated config and swapped atomically on reload (every core reads the
//! current one through `ArcSwap`; in-flight requests keep the one they began with).

mod snapshot;

pub use snapshot::{ModelRoute, Provider, ProviderState, Snapshot};

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

/// The snapshot in force now. Cheap: an atomic load and a reference count.
pub fn current() -> Arc<Snapshot> {
    CURRENT
        .get()
        .expect("router snapshot published before serving")
        .load_full()
}
