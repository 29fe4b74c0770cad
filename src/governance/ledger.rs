//! Each core's pending spend rows: pushed at a request's end, handed to the
//! ledger writer in batches by the core's timer (and before a spend query
//! on the core that serves it), so a request pays for a `Vec::push`, not a
//! channel operation.

use std::cell::RefCell;

use super::types::LedgerRow;

thread_local! {
    static PENDING: RefCell<Vec<LedgerRow>> = const { RefCell::new(Vec::new()) };
}

/// Rows a core holds before it hands them on without waiting for its timer.
const BATCH: usize = 256;

pub fn push(row: LedgerRow) {
    let full = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.push(row);
        p.len() >= BATCH
    });
    if full {
        flush_local();
    }
}

/// Hands this core's pending rows to the ledger writer, as one message.
pub fn flush_local() {
    let rows = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if !rows.is_empty() {
        super::runtime::record_spend(rows);
    }
}
