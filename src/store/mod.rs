//! Where governance state lives: the embedded SQLite store (the default, and
//! the only one that survives a restart on its own), the ledger writer that
//! feeds it spend rows off the request path, and the Redis tier that many
//! instances share.

pub mod ledger_writer;
pub mod redis;
pub mod sqlite;

#[cfg(test)]
mod temp_db;

pub use ledger_writer::{FlushError, LedgerSender, LedgerWriter, LedgerWriterConfig};
pub use sqlite::{Store, StoreError};
