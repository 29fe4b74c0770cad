//! Handing messages from a process's reader thread to whoever waits for
//! them: a one-sender queue under a std `Mutex`, and a value set once.
//! monoio (built without its `sync` feature) panics on a `Waker` woken from
//! another thread, so a monoio receiver is woken through a socket pair
//! instead — the sender writes a byte, the receiver's event loop reads it —
//! and a blocking receiver (the writer thread's probe) through a `Condvar`.

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use monoio::io::AsyncReadRent;

struct Shared<T> {
    state: Mutex<State<T>>,
    cond: Condvar,
}

struct State<T> {
    queue: VecDeque<T>,
    closed: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves a queue still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sending half; dropping it closes the queue (after what it holds).
pub(in crate::mcp::upstream) struct InboxSender<T> {
    shared: Arc<Shared<T>>,
    bell: StdUnixStream,
}

/// The receiving half, for one task or one thread.
pub(in crate::mcp::upstream) struct Inbox<T> {
    shared: Arc<Shared<T>>,
    ear: Ear,
}

/// The receiver's end of the bell: std until a monoio task first waits.
enum Ear {
    Std(StdUnixStream),
    Monoio(monoio::net::UnixStream),
    Broken,
}

/// A queue and its bell (two file descriptors, until both halves are dropped).
pub(in crate::mcp::upstream) fn inbox<T>() -> std::io::Result<(InboxSender<T>, Inbox<T>)> {
    let (bell, ear) = StdUnixStream::pair()?;
    bell.set_nonblocking(true)?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            closed: false,
        }),
        cond: Condvar::new(),
    });
    Ok((
        InboxSender {
            shared: shared.clone(),
            bell,
        },
        Inbox {
            shared,
            ear: Ear::Std(ear),
        },
    ))
}

impl<T> InboxSender<T> {
    pub fn send(&self, value: T) {
        lock(&self.shared.state).queue.push_back(value);
        self.ring();
    }

    fn ring(&self) {
        self.shared.cond.notify_all();
        // A full socket already holds unread rings: one more is not needed.
        let _ = (&self.bell).write(&[1]);
    }
}

impl<T> Drop for InboxSender<T> {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.ring();
    }
}

/// What a blocking receive saw.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::mcp::upstream) enum Received<T> {
    Value(T),
    Closed,
    TimedOut,
}

impl<T> Inbox<T> {
    fn take(&self) -> Option<Option<T>> {
        let mut state = lock(&self.shared.state);
        match state.queue.pop_front() {
            Some(v) => Some(Some(v)),
            None if state.closed => Some(None),
            None => None,
        }
    }

    /// The next value, from a monoio task; `None` once the sender is gone
    /// and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let mut buf = Vec::with_capacity(64);
        loop {
            if let Some(v) = self.take() {
                return v;
            }
            let ear = self.monoio_ear()?;
            buf.clear();
            let (res, back) = ear.read(buf).await;
            buf = back;
            // A read error leaves the bell unusable: take what is queued,
            // then report the queue closed rather than spin.
            if res.is_err() {
                self.ear = Ear::Broken;
            }
        }
    }

    fn monoio_ear(&mut self) -> Option<&mut monoio::net::UnixStream> {
        if let Ear::Std(_) = self.ear {
            let Ear::Std(std) = std::mem::replace(&mut self.ear, Ear::Broken) else {
                return None;
            };
            if let Ok(ear) = monoio::net::UnixStream::from_std(std) {
                self.ear = Ear::Monoio(ear);
            }
        }
        match &mut self.ear {
            Ear::Monoio(ear) => Some(ear),
            Ear::Std(_) | Ear::Broken => None,
        }
    }

    /// The next value, waiting on this thread up to `timeout`.
    pub fn recv_blocking(&self, timeout: Duration) -> Received<T> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.state);
        loop {
            if let Some(v) = state.queue.pop_front() {
                return Received::Value(v);
            }
            if state.closed {
                return Received::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Received::TimedOut;
            }
            state = match self.shared.cond.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// How often a task waiting for a [`Once`] looks again. A value is set once
/// per process start (its era probe), so a short poll costs nothing that
/// matters and needs no cross-thread wake.
const ONCE_POLL: Duration = Duration::from_millis(5);

/// A value set once (a process's probe verdict) that tasks on any thread await.
pub(in crate::mcp::upstream) struct Once<T: Clone> {
    value: Mutex<Option<T>>,
}

impl<T: Clone> Once<T> {
    pub fn new() -> Self {
        Once {
            value: Mutex::new(None),
        }
    }

    /// Sets the value unless it is set.
    pub fn set(&self, value: T) {
        lock(&self.value).get_or_insert(value);
    }

    pub async fn get(&self) -> T {
        loop {
            if let Some(v) = lock(&self.value).clone() {
                return v;
            }
            monoio::time::sleep(ONCE_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(f)
    }

    /// Sends 0..1000 from another thread; what the receiver got, in order.
    async fn receive_from_a_thread() -> Vec<i32> {
        let (tx, mut rx) = inbox().unwrap();
        let sender = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send(i);
            }
        });
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        sender.join().unwrap();
        got
    }

    #[test]
    fn values_cross_threads_in_order_then_close() {
        let want: Vec<i32> = (0..1000).collect();
        assert_eq!(block_on(receive_from_a_thread()), want);
        if monoio::utils::detect_uring() {
            let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()
                .unwrap();
            assert_eq!(rt.block_on(receive_from_a_thread()), want, "io_uring");
        }
    }

    #[test]
    fn blocking_receive_sees_values_closing_and_silence() {
        let (tx, rx) = inbox().unwrap();
        assert_eq!(rx.recv_blocking(Duration::ZERO), Received::TimedOut);
        tx.send(1);
        assert_eq!(rx.recv_blocking(Duration::ZERO), Received::Value(1));
        drop(tx);
        assert_eq!(rx.recv_blocking(Duration::from_secs(5)), Received::Closed);
    }

    #[test]
    fn once_keeps_its_first_value_for_every_thread() {
        let once = Arc::new(Once::new());
        let setter = {
            let once = once.clone();
            std::thread::spawn(move || {
                once.set(7);
                once.set(8);
            })
        };
        assert_eq!(block_on(once.get()), 7);
        setter.join().unwrap();
        assert_eq!(block_on(once.get()), 7);
    }
}
