//! The store's tables, and the steps that bring an older file up to date.
//! `PRAGMA user_version` counts the steps a file has had.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::{StoreError, sql};

/// Step `i` takes a file from version `i` to `i + 1`. Append only: editing a
/// shipped step would leave existing files unlike new ones.
const STEPS: &[&str] = &[V1, V2];

/// Records are JSON (one column to migrate when a type grows a field), with
/// the columns a lookup or a constraint needs beside them. Ledger rows and
/// rollups are columns: they are summed, filtered and written in bulk.
/// `AUTOINCREMENT` keeps sequence numbers from ever being reused, which the
/// Redis replay relies on.
const V1: &str = "
CREATE TABLE keys (
    id TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
) STRICT;
CREATE TABLE teams (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL) STRICT;
CREATE TABLE end_users (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL) STRICT;
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    key_id TEXT,
    team TEXT,
    end_user TEXT,
    model TEXT NOT NULL,
    served_by TEXT,
    prompt_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    provider_nanos INTEGER NOT NULL,
    charge_nanos INTEGER NOT NULL,
    gateway_nanos INTEGER NOT NULL,
    priced INTEGER NOT NULL
) STRICT;
CREATE TABLE spend (
    dimension TEXT NOT NULL,
    id TEXT NOT NULL,
    day INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    provider_nanos INTEGER NOT NULL,
    charge_nanos INTEGER NOT NULL,
    gateway_nanos INTEGER NOT NULL,
    PRIMARY KEY (dimension, id, day)
) STRICT, WITHOUT ROWID;
CREATE INDEX spend_by_day ON spend (dimension, day);
CREATE TABLE synced (peer TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL) STRICT;
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
) STRICT;
";

/// Ledger rows in batches (`codec.rs`): a row per batch instead of per
/// request. Rows written by V1 stay in `ledger` and are read first.
const V2: &str = "
CREATE TABLE ledger_batches (
    first_seq INTEGER PRIMARY KEY NOT NULL,
    count INTEGER NOT NULL,
    rows BLOB NOT NULL
) STRICT;
";

/// The version this build writes.
pub(super) const VERSION: i64 = STEPS.len() as i64;

/// Brings the file to [`VERSION`] in one immediate transaction, so two
/// processes opening a new file at once cannot both create its tables.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the schema migration"))?;
    let found = version(&tx)?;
    let first = usize::try_from(found)
        .ok()
        .filter(|&v| v <= STEPS.len())
        .ok_or(StoreError::Schema {
            found,
            known: VERSION,
        })?;
    if first == STEPS.len() {
        return Ok(());
    }
    for step in &STEPS[first..] {
        tx.execute_batch(step)
            .map_err(sql("creating or migrating the tables"))?;
    }
    tx.pragma_update(None, "user_version", VERSION)
        .map_err(sql("recording the schema version"))?;
    tx.commit().map_err(sql("committing the schema migration"))
}

fn version(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    tx.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql("reading the schema version"))
}
