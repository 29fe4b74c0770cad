//! The ledger writer: one thread that takes spend rows from the request path
//! through a bounded channel and commits them to the store in batches. A
//! send never blocks — a full channel drops the row and counts it — and a
//! failed commit keeps its rows for the next attempt.

mod schedule;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::sqlite::{Store, StoreError};
use crate::governance::rollup::{Rollup, rollups};
use crate::governance::types::LedgerRow;
use crate::resilience::{Clock, MonotonicClock};
use schedule::Schedule;

/// Called on the writer thread after each committed batch: how the Redis
/// tier sees spend as it is written. It runs outside the store's lock, so it
/// may use the store; it must not flush.
pub type OnCommit = Box<dyn FnMut(&Committed<'_>) + Send>;

/// A batch the store has committed.
pub struct Committed<'a> {
    /// The first row's sequence number; the others follow it one by one.
    pub first_seq: i64,
    pub rows: &'a [LedgerRow],
    /// The rows' rollups, as the store added them.
    pub rollups: &'a [Rollup],
    /// The rows packed as the store keeps them ([`super::sqlite::encode_ledger`]).
    pub packed: &'a [u8],
}

/// Tries at the rows still pending when the writer stops.
const SHUTDOWN_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy)]
pub struct LedgerWriterConfig {
    /// Rows the channel holds, and rows kept while the store fails, before
    /// new rows are dropped.
    pub capacity: usize,
    /// Rows per transaction at most.
    pub max_batch: usize,
    /// How long a row may wait for a batch to fill.
    pub interval: Duration,
}

impl Default for LedgerWriterConfig {
    fn default() -> Self {
        LedgerWriterConfig {
            capacity: 65_536,
            max_batch: 1_024,
            // A batch's fixed cost (a transaction, its rollup upserts, a WAL
            // commit) is spread over a quarter second of rows; budgets are
            // enforced in memory, so only a crash's last rows wait on it.
            interval: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// The rows are kept and retried; the error says why the store refused.
    #[error("the ledger rows are not committed yet: {0}")]
    Store(#[from] StoreError),
    #[error("the ledger writer has stopped")]
    Stopped,
}

enum Message {
    /// Boxed so the channel's slots, allocated up front, stay small.
    Row(Box<LedgerRow>),
    /// A worker's rows since its last hand-over: one message, not one each.
    Rows(Vec<LedgerRow>),
    Flush(Sender<Result<(), FlushError>>),
    Stop,
}

/// The request path's end of the writer; cheap to clone, one per worker.
#[derive(Clone)]
pub struct LedgerSender {
    tx: Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LedgerSender {
    /// Queues the row without blocking. False: the channel was full or the
    /// writer has stopped, and the row is dropped and counted.
    pub fn send(&self, row: LedgerRow) -> bool {
        match self.tx.try_send(Message::Row(Box::new(row))) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Queues a batch of rows as one message, without blocking. False: the
    /// channel was full or the writer has stopped, and the rows are dropped
    /// and counted.
    pub fn send_batch(&self, rows: Vec<LedgerRow>) -> bool {
        if rows.is_empty() {
            return true;
        }
        let n = rows.len() as u64;
        match self.tx.try_send(Message::Rows(rows)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(n, Ordering::Relaxed);
                false
            }
        }
    }

    /// Returns once every row sent before the call (from any sender) is
    /// committed, or with the reason it is not. Blocks: not for the request
    /// path, nor for the writer's own thread.
    pub fn flush(&self) -> Result<(), FlushError> {
        let (reply, answer) = channel::bounded(1);
        self.tx
            .send(Message::Flush(reply))
            .map_err(|_| FlushError::Stopped)?;
        answer.recv().unwrap_or(Err(FlushError::Stopped))
    }
}

/// The writer thread's handle. Dropping it stops the thread after it has
/// written every row sent before.
pub struct LedgerWriter {
    sender: LedgerSender,
    thread: Option<JoinHandle<Result<(), StoreError>>>,
}

impl LedgerWriter {
    pub fn spawn(
        store: Arc<Mutex<Store>>,
        config: LedgerWriterConfig,
        on_commit: OnCommit,
    ) -> std::io::Result<LedgerWriter> {
        let capacity = config.capacity.max(1);
        let (tx, rx) = channel::bounded(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let interval_ms = u64::try_from(config.interval.as_millis()).unwrap_or(u64::MAX);
        let worker = Worker {
            store,
            rx,
            on_commit,
            dropped: Arc::clone(&dropped),
            capacity,
            pending: VecDeque::new(),
            schedule: Schedule::new(config.max_batch, interval_ms),
            clock: MonotonicClock,
        };
        let thread = std::thread::Builder::new()
            .name("tollgate-ledger".to_owned())
            .spawn(move || worker.run())?;
        Ok(LedgerWriter {
            sender: LedgerSender { tx, dropped },
            thread: Some(thread),
        })
    }

    pub fn sender(&self) -> LedgerSender {
        self.sender.clone()
    }

    /// See [`LedgerSender::flush`].
    pub fn flush(&self) -> Result<(), FlushError> {
        self.sender.flush()
    }

    /// Rows lost so far: refused by a full channel or a stopped writer, or
    /// beyond `capacity` while the store was failing.
    pub fn dropped(&self) -> u64 {
        self.sender.dropped.load(Ordering::Relaxed)
    }

    /// Writes every row sent before the call, then ends the thread; sends
    /// after it are dropped. Err: rows that could not be written (also
    /// reported on stderr).
    pub fn shutdown(mut self) -> Result<(), FlushError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), FlushError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        // A failed send means the thread is already gone; join says how.
        let _ = self.sender.tx.send(Message::Stop);
        match thread.join() {
            Ok(outcome) => outcome.map_err(FlushError::Store),
            Err(_) => Err(FlushError::Stopped),
        }
    }
}

impl Drop for LedgerWriter {
    fn drop(&mut self) {
        // The outcome is already on stderr; a drop has no one to tell.
        let _ = self.stop();
    }
}

/// The writer thread's state.
struct Worker {
    store: Arc<Mutex<Store>>,
    rx: Receiver<Message>,
    on_commit: OnCommit,
    dropped: Arc<AtomicU64>,
    capacity: usize,
    pending: VecDeque<LedgerRow>,
    schedule: Schedule,
    clock: MonotonicClock,
}

impl Worker {
    fn run(mut self) -> Result<(), StoreError> {
        loop {
            let message = match self.schedule.wait_ms(self.clock.now_ms()) {
                None => self.rx.recv().ok(),
                Some(0) => {
                    // Failures are reported inside and retried on schedule.
                    let _ = self.commit();
                    continue;
                }
                Some(ms) => match self.rx.recv_timeout(Duration::from_millis(ms)) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            match message {
                Some(Message::Row(row)) => self.add(*row, self.clock.now_ms()),
                Some(Message::Rows(rows)) => {
                    // One clock read for the message's rows: they arrived together.
                    let now_ms = self.clock.now_ms();
                    for row in rows {
                        self.add(row, now_ms);
                    }
                }
                Some(Message::Flush(reply)) => {
                    let outcome = self.commit().map_err(FlushError::Store);
                    // The flusher may have given up waiting; nothing to do.
                    let _ = reply.send(outcome);
                }
                Some(Message::Stop) => {
                    self.take_queued();
                    return self.finish();
                }
                None => return self.finish(),
            }
        }
    }

    fn add(&mut self, row: LedgerRow, now_ms: u64) {
        if self.keep(row) && self.schedule.row_added(now_ms, self.pending.len()) {
            // Failures are reported inside and retried on schedule.
            let _ = self.commit();
        }
    }

    /// False: the row is dropped, the store having failed for too long.
    fn keep(&mut self, row: LedgerRow) -> bool {
        if self.pending.len() >= self.capacity {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.pending.push_back(row);
        true
    }

    /// Rows sent just after the stop are written with the rest rather than
    /// lost uncounted with the channel. A flush queued there is answered
    /// `Stopped` when its reply channel drops.
    fn take_queued(&mut self) {
        let queued: Vec<Message> = self.rx.try_iter().take(self.capacity).collect();
        for message in queued {
            match message {
                Message::Row(row) => {
                    self.keep(*row);
                }
                Message::Rows(rows) => {
                    for row in rows {
                        self.keep(row);
                    }
                }
                Message::Flush(_) | Message::Stop => {}
            }
        }
    }

    /// Commits everything pending, a batch per transaction; on the first
    /// failure the rest stays pending, in order, and the retry is scheduled.
    fn commit(&mut self) -> Result<(), StoreError> {
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.schedule.max_batch());
            // The batch is read in place and dropped only once committed.
            let batch = &self.pending.make_contiguous()[..n];
            let sums = rollups(batch);
            let packed = super::sqlite::encode_ledger(batch);
            let outcome = self
                .store
                .lock()
                // The store is transactional: a panic mid-call left no half-batch.
                .unwrap_or_else(PoisonError::into_inner)
                .append_batch(batch, &packed, &sums);
            match outcome {
                Ok(first_seq) => {
                    (self.on_commit)(&Committed {
                        first_seq,
                        rows: batch,
                        rollups: &sums,
                        packed: &packed,
                    });
                    self.pending.drain(..n);
                }
                Err(e) => {
                    let retry_ms = self.schedule.failed(self.clock.now_ms());
                    eprintln!(
                        "tollgate: ledger: {} rows not committed yet (attempt {}, next in {retry_ms} ms; {} rows dropped so far): {e}",
                        self.pending.len(),
                        self.schedule.failures(),
                        self.dropped.load(Ordering::Relaxed),
                    );
                    return Err(e);
                }
            }
        }
        if self.schedule.failures() > 0 {
            eprintln!(
                "tollgate: ledger: committed again after {} failed attempts",
                self.schedule.failures()
            );
        }
        self.schedule.committed();
        Ok(())
    }

    /// The last rows, with a few spaced tries: a store busy at shutdown
    /// usually frees within one back-off.
    fn finish(mut self) -> Result<(), StoreError> {
        let mut outcome = self.commit();
        for _ in 1..SHUTDOWN_ATTEMPTS {
            if outcome.is_ok() {
                break;
            }
            let wait = self
                .schedule
                .wait_ms(self.clock.now_ms())
                .unwrap_or_default();
            std::thread::sleep(Duration::from_millis(wait));
            outcome = self.commit();
        }
        if outcome.is_err() {
            eprintln!(
                "tollgate: ledger: {} rows lost at shutdown",
                self.pending.len()
            );
        }
        outcome
    }
}
