//! A value built off the request path and swapped whole (the routing
//! snapshot, the governance snapshot), and each core's handle on it.
//! Cloning the shared `Arc` on every request would bounce its reference
//! count between cores; instead each core keeps one clone behind an `Rc`
//! and only checks, with a plain atomic load, whether a newer one was
//! published.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::thread::LocalKey;

use arc_swap::ArcSwap;

pub struct Published<T>(OnceLock<ArcSwap<T>>);

/// One core's hold on a published value; cloned per request without atomics.
pub struct Core<T>(Arc<T>);

impl<T> Core<T> {
    /// A handle on a value never published (an empty default).
    pub fn new(value: T) -> Self {
        Core(Arc::new(value))
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
        Published(OnceLock::new())
    }

    /// Installs the first value, or swaps in a new one.
    pub fn publish(&self, value: T) {
        let value = Arc::new(value);
        match self.0.get() {
            Some(current) => current.store(value),
            None => {
                if let Err(current) = self.0.set(ArcSwap::new(value.clone())) {
                    current.store(value);
                }
            }
        }
    }

    /// The shared cell, once something was published.
    pub fn shared(&self) -> Option<&ArcSwap<T>> {
        self.0.get()
    }

    /// This core's handle on the value in force, kept in `slot`; `None`
    /// before anything was published.
    pub fn core(&self, slot: &'static CoreSlot<T>) -> Option<Rc<Core<T>>> {
        let latest = self.0.get()?.load();
        Some(slot.with(|local| {
            let mut local = local.borrow_mut();
            match &*local {
                Some(mine) if Arc::ptr_eq(&mine.0, &latest) => mine.clone(),
                _ => {
                    let fresh = Rc::new(Core(arc_swap::Guard::into_inner(latest)));
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
