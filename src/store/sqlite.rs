//! The embedded governance store: one SQLite file with the keys, teams and
//! end users the admin API manages, the spend ledger and its daily rollups
//! (`ledger.rs`), how far each Redis peer has seen the ledger, and the admin
//! audit trail. Used from one background thread and short admin calls, never
//! from a request's path; the gateway decides how to share it.

mod codec;
mod error;
mod ledger;
mod schema;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::governance::types::{AuditEntry, EndUserRecord, KeyRecord, TeamRecord};

pub use codec::{decode as decode_ledger, encode as encode_ledger};
pub use error::StoreError;
use error::sql;

/// How long a call waits for another connection's write to finish before it
/// fails as busy: long enough for any batch the ledger writer commits.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the store at `path`, whose folder must exist,
    /// and brings its tables to this build's version. Write-ahead logging lets
    /// admin reads proceed while the ledger writer commits; `synchronous =
    /// NORMAL` may lose the last commits on power loss, never the file.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_error)?;
        // Some file systems cannot hold a WAL; SQLite then keeps its rollback
        // journal, which is slower but correct, so the answer is not checked.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        Store::ready(conn)
    }

    /// A store that lives as long as the value: for tests and for a gateway
    /// run without a data directory.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(sql("opening an in-memory store"))?;
        Store::ready(conn)
    }

    fn ready(mut conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql("setting the busy timeout"))?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// How long a call waits for another connection's write lock before it
    /// fails with an error whose [`StoreError::is_busy`] is true.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(timeout)
            .map_err(sql("setting the busy timeout"))
    }

    /// Inserts the key, or replaces the one with the same id (a rotation
    /// keeps the id and changes the hash). A hash already held by another id
    /// is refused with [`StoreError::DuplicateKeyHash`].
    pub fn put_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let record = encode("keys", &key.id, key)?;
        self.conn
            .prepare_cached(
                "INSERT INTO keys (id, hash, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, record = excluded.record",
            )
            .and_then(|mut insert| insert.execute(params![key.id, key.hash, record]))
            .map_err(|source| {
                // The id conflict is the upsert's; only the hash can be unique-violated.
                let duplicate = matches!(&source, rusqlite::Error::SqliteFailure(e, _)
                    if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE);
                if duplicate {
                    StoreError::DuplicateKeyHash { id: key.id.clone() }
                } else {
                    StoreError::Sql {
                        context: "storing a key",
                        source,
                    }
                }
            })?;
        Ok(())
    }

    pub fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.record("keys", id)
    }

    /// Every stored key, revoked ones included, ordered by id.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.records("keys")
    }

    /// Marks the key revoked at `at_secs`; a key revoked earlier keeps its
    /// first time, so a repeated revoke is harmless. False: no such key.
    pub fn revoke_key(&self, id: &str, at_secs: u64) -> Result<bool, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(sql("starting a key revocation"))?;
        let Some(mut key) = read_record::<KeyRecord>(&tx, "keys", id)? else {
            return Ok(false);
        };
        if key.revoked_at.is_none() {
            key.revoked_at = Some(at_secs);
            let record = encode("keys", id, &key)?;
            tx.execute(
                "UPDATE keys SET record = ?2 WHERE id = ?1",
                params![id, record],
            )
            .map_err(sql("revoking a key"))?;
        }
        tx.commit().map_err(sql("committing a key revocation"))?;
        Ok(true)
    }

    /// Removes the key for good (revoking keeps it listed). False: no such key.
    pub fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        self.delete("keys", id)
    }

    pub fn put_team(&self, team: &TeamRecord) -> Result<(), StoreError> {
        self.put("teams", &team.id, team)
    }

    pub fn team(&self, id: &str) -> Result<Option<TeamRecord>, StoreError> {
        self.record("teams", id)
    }

    /// Every team, ordered by id.
    pub fn teams(&self) -> Result<Vec<TeamRecord>, StoreError> {
        self.records("teams")
    }

    pub fn delete_team(&self, id: &str) -> Result<bool, StoreError> {
        self.delete("teams", id)
    }

    pub fn put_end_user(&self, user: &EndUserRecord) -> Result<(), StoreError> {
        self.put("end_users", &user.id, user)
    }

    pub fn end_user(&self, id: &str) -> Result<Option<EndUserRecord>, StoreError> {
        self.record("end_users", id)
    }

    /// Every end user with a stored budget, ordered by id.
    pub fn end_users(&self) -> Result<Vec<EndUserRecord>, StoreError> {
        self.records("end_users")
    }

    pub fn delete_end_user(&self, id: &str) -> Result<bool, StoreError> {
        self.delete("end_users", id)
    }

    /// The last ledger sequence number `peer` (a Redis tier) has applied; 0
    /// when it has seen none, so replay starts at the first row.
    pub fn synced_seq(&self, peer: &str) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("SELECT seq FROM synced WHERE peer = ?1")
            .and_then(|mut select| select.query_row([peer], |row| row.get(0)).optional())
            .map(|seq| seq.unwrap_or(0))
            .map_err(sql("reading a peer's synced sequence"))
    }

    /// Records how far `peer` has applied the ledger. Set as given, not kept
    /// monotonic, so a peer that lost its data can be replayed from 0.
    pub fn set_synced_seq(&self, peer: &str, seq: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO synced (peer, seq) VALUES (?1, ?2)
                 ON CONFLICT (peer) DO UPDATE SET seq = excluded.seq",
            )
            .and_then(|mut upsert| upsert.execute(params![peer, seq]))
            .map_err(sql("recording a peer's synced sequence"))?;
        Ok(())
    }

    /// Appends one admin action to the trail, which is never rewritten.
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (ts_ms, actor, action, target, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    to_sql_int(entry.ts_ms),
                    entry.actor,
                    entry.action,
                    entry.target,
                    entry.detail
                ])
            })
            .map_err(sql("recording an admin action"))?;
        Ok(())
    }

    /// The last `limit` admin actions, newest (last recorded) first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut select = self
            .conn
            .prepare_cached(
                "SELECT ts_ms, actor, action, target, detail FROM audit
                 ORDER BY seq DESC LIMIT ?1",
            )
            .map_err(sql("reading the audit trail"))?;
        let entries = select
            .query_map([to_sql_limit(limit)], |row| {
                Ok(AuditEntry {
                    ts_ms: from_sql_int(row.get(0)?),
                    actor: row.get(1)?,
                    action: row.get(2)?,
                    target: row.get(3)?,
                    detail: row.get(4)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(sql("reading the audit trail"))?;
        Ok(entries)
    }

    fn put<T: Serialize>(
        &self,
        table: &'static str,
        id: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let record = encode(table, id, value)?;
        // Table names are this file's constants, never input.
        let upsert = format!(
            "INSERT INTO {table} (id, record) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record"
        );
        self.conn
            .prepare_cached(&upsert)
            .and_then(|mut upsert| upsert.execute(params![id, record]))
            .map_err(sql("storing a record"))?;
        Ok(())
    }

    fn record<T: DeserializeOwned>(
        &self,
        table: &'static str,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        read_record(&self.conn, table, id)
    }

    fn records<T: DeserializeOwned>(&self, table: &'static str) -> Result<Vec<T>, StoreError> {
        let mut select = self
            .conn
            .prepare_cached(&format!("SELECT id, record FROM {table} ORDER BY id"))
            .map_err(sql("listing records"))?;
        let rows: Vec<(String, String)> = select
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(sql("listing records"))?;
        rows.into_iter()
            .map(|(id, record)| decode(table, &id, record))
            .collect()
    }

    fn delete(&self, table: &'static str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .conn
            .prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))
            .and_then(|mut delete| delete.execute([id]))
            .map_err(sql("deleting a record"))?;
        Ok(deleted > 0)
    }
}

fn read_record<T: DeserializeOwned>(
    conn: &Connection,
    table: &'static str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    let record: Option<String> = conn
        .prepare_cached(&format!("SELECT record FROM {table} WHERE id = ?1"))
        .and_then(|mut select| select.query_row([id], |row| row.get(0)).optional())
        .map_err(sql("reading a record"))?;
    record.map(|record| decode(table, id, record)).transpose()
}

fn encode<T: Serialize>(table: &'static str, id: &str, value: &T) -> Result<String, StoreError> {
    simd_json::serde::to_string(value).map_err(|e| StoreError::Encode {
        table,
        id: id.to_owned(),
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(
    table: &'static str,
    id: &str,
    record: String,
) -> Result<T, StoreError> {
    let mut bytes = record.into_bytes();
    simd_json::serde::from_slice(&mut bytes).map_err(|e| StoreError::Corrupt {
        table,
        id: id.to_owned(),
        detail: e.to_string(),
    })
}

/// SQLite integers are signed; counts past `i64::MAX` (never seen in
/// practice) are stored as the maximum rather than refused.
fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The inverse of [`to_sql_int`]; a negative value (written by hand) reads as 0.
fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
