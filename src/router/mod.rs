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
use std::sync::Arc;

use crate::runtime::published::{Core, Published};

static CURRENT: Published<Snapshot> = Published::new();

/// Installs the first snapshot, or swaps in a new one.
pub fn publish(snapshot: Snapshot) {
    CURRENT.publish(snapshot);
}

/// One core's hold on a snapshot; cloned per request without atomics.
pub type CoreSnapshot = Core<Snapshot>;

/// Re-resolves provider host names and, if any address changed, publishes a
/// rebuilt snapshot — unless a reload published a newer one meanwhile.
/// Runs on a background thread: resolution blocks.
pub fn refresh_addresses() -> bool {
    let Some(shared) = CURRENT.shared() else {
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

/// The snapshot in force now, as this core's handle (see `Published`).
pub fn current() -> Rc<CoreSnapshot> {
    thread_local! {
        static LOCAL: RefCell<Option<Rc<CoreSnapshot>>> = const { RefCell::new(None) };
    }
    CURRENT
        .core(&LOCAL)
        .expect("router snapshot published before serving")
}

#[cfg(test)]
mod tests;
