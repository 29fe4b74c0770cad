//! Each core's own clients of the upstream servers (its connections, its
//! legacy-era upstream sessions, its stdio processes — one per key), and
//! its share of each server's concurrency bound. Nothing here is shared
//! with another core.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use rustc_hash::FxHashMap;

use super::upstream::{Client, Target, UpstreamSpec};

struct Entry {
    spec: Arc<UpstreamSpec>,
    client: Rc<Client>,
    slots: Rc<Slots>,
}

thread_local! {
    static CLIENTS: RefCell<FxHashMap<(String, Option<String>), Entry>> = RefCell::new(FxHashMap::default());
}

/// This core's client of `spec`'s server for `owner` (stdio servers get a
/// process per owner; HTTP servers ignore it), and the slots bounding its
/// calls. A spec replaced by a reload gets a new client.
pub fn client(spec: &Arc<UpstreamSpec>, owner: Option<&str>) -> (Rc<Client>, Rc<Slots>) {
    let owner = matches!(spec.target, Target::Stdio { .. }).then(|| owner.unwrap_or("").to_owned());
    let key = (spec.name.clone(), owner);
    CLIENTS.with_borrow_mut(|clients| {
        if let Some(e) = clients.get(&key)
            && Arc::ptr_eq(&e.spec, spec)
        {
            return (e.client.clone(), e.slots.clone());
        }
        let workers = crate::router::current().config.server.workers.max(1);
        let share = spec.max_concurrency.div_ceil(workers).max(1);
        let entry = Entry {
            spec: spec.clone(),
            client: Rc::new(Client::new(spec.clone(), key.1.as_deref())),
            slots: Rc::new(Slots::new(share)),
        };
        let out = (entry.client.clone(), entry.slots.clone());
        clients.insert(key, entry);
        out
    })
}

/// A core-local counting semaphore: calls beyond a server's share wait
/// (bounded by their own timeout) instead of piling onto the upstream.
pub struct Slots {
    free: Cell<usize>,
    waiting: RefCell<VecDeque<Waker>>,
}

pub struct Permit(Rc<Slots>);

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Cell::new(n),
            waiting: RefCell::new(VecDeque::new()),
        }
    }

    pub async fn acquire(self: &Rc<Self>) -> Permit {
        poll_fn(|cx| {
            let free = self.free.get();
            if free > 0 {
                self.free.set(free - 1);
                Poll::Ready(Permit(self.clone()))
            } else {
                self.waiting.borrow_mut().push_back(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.free.set(self.0.free.get() + 1);
        if let Some(w) = self.0.waiting.borrow_mut().pop_front() {
            w.wake();
        }
    }
}
