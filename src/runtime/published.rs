//! A value built off the request path and swapped whole (the routing
//! snapshot, the governance snapshot), and each core's handle on it.
//! Cloning the shared `Arc` on every request would bounce its reference
//! count between cores; instead each core keeps one clone behind an `Rc`
//! and only checks, with a plain atomic load of a version number, whether
//! a newer one was published (a load from the `ArcSwap` itself costs a
//! hundred instructions: per request, on two snapshots).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::LocalKey;

use arc_swap::ArcSwap;

pub struct Published<T> {
    cell: OnceLock<ArcSwap<T>>,
    /// Bumped after each value is stored.
    version: AtomicU64,
}

/// One core's hold on a published value, and the version it was loaded
/// at; cloned per request without atomics.
pub struct Core<T>(Arc<T>, u64);

impl<T> Core<T> {
    /// A handle on a value never published (an empty default).
    pub fn new(value: T) -> Self {
        Core(Arc::new(value), u64::MAX)
    }
}

impl<T> std::ops::Deref for Core<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Where a core keeps its handle: a `thread_local!` of the caller's.
pub type CoreSlot<T> = LocalKey<RefCell<Option<Rc<Core<T>>>>>;

impl<T> Published<T> {
    pub const fn new() -> Self {
        Published {
            cell: OnceLock::new(),
            version: AtomicU64::new(0),
        }
    }

    /// Installs the first value, or swaps in a new one.
    pub fn publish(&self, value: T) {
        let value = Arc::new(value);
        match self.cell.get() {
            Some(current) => current.store(value),
            None => {
                if let Err(current) = self.cell.set(ArcSwap::new(value.clone())) {
                    current.store(value);
                }
            }
        }
        // After the store: a core that sees this version loads a value at
        // least as new.
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The shared cell, once something was published.
    pub fn shared(&self) -> Option<&ArcSwap<T>> {
        self.cell.get()
    }

    /// This core's handle on the value in force, kept in `slot`; `None`
    /// before anything was published.
    pub fn core(&self, slot: &'static CoreSlot<T>) -> Option<Rc<Core<T>>> {
        let cell = self.cell.get()?;
        let version = self.version.load(Ordering::Acquire);
        Some(slot.with(|local| {
            let mut local = local.borrow_mut();
            match &*local {
                Some(mine) if mine.1 == version => mine.clone(),
                _ => {
                    let fresh = Rc::new(Core(cell.load_full(), version));
                    *local = Some(fresh.clone());
                    fresh
                }
            }
        }))
    }
}

impl<T> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}
