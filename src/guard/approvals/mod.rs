//! Human approval of tool calls. A call to a tool marked `approval =
//! "required"` is held in the process's [`ApprovalBook`], bound to that one
//! exact call (key, tool, canonical-argument digest, policy version, expiry);
//! approvers decide through `/admin/approvals` ([`routes`]) after a webhook
//! ([`Notifier`]) tells them, and an approved call is released once.

mod book;
mod entry;
mod notifier;
pub mod routes;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use book::{ApprovalBook, NowMs};
pub use entry::{
    Binding, CreateError, DecideError, Event, Held, Mismatch, ReleaseError, State, View,
};
pub use notifier::Notifier;

/// Approvals one process holds at most, settled ones included; beyond it a
/// new approval is refused rather than an old live one dropped.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The process's approval book, shared by every core and the admin API.
pub fn book() -> &'static ApprovalBook {
    static BOOK: OnceLock<ApprovalBook> = OnceLock::new();
    BOOK.get_or_init(|| {
        ApprovalBook::new(DEFAULT_CAPACITY, Box::new(crate::resilience::unix_millis))
    })
}
