//! The spend ledger: rows appended in batches, each batch in one transaction
//! that also adds it to the daily rollups, so a rollup never counts a row the
//! ledger lacks. Spend queries and budget reloads read only the rollups.

use rusqlite::{Row, params};

use super::error::{StoreError, sql};
use super::{Store, from_sql_int, to_sql_int, to_sql_limit};
use crate::governance::rollup::{Rollup, rollups};
use crate::governance::types::{Dimension, LedgerRow, Period, SpendRow};

const INSERT_BATCH: &str =
    "INSERT INTO ledger_batches (first_seq, count, rows) VALUES (?1, ?2, ?3)";

/// The next sequence number: after every row of either table.
const NEXT_SEQ: &str = "SELECT MAX(
    COALESCE((SELECT MAX(first_seq + count - 1) FROM ledger_batches), 0),
    COALESCE((SELECT MAX(seq) FROM ledger), 0)
) + 1";

const SELECT_BATCHES: &str = "SELECT first_seq, count, rows FROM ledger_batches
WHERE first_seq + count - 1 > ?1 ORDER BY first_seq";

/// Sums clamp to the `i64` range: SQLite turns an overflowing `+` into a
/// REAL, which the STRICT table would refuse, and a batch refused for ever
/// would stall the ledger behind it. Absurd usage from an upstream must not.
const ADD_TO_ROLLUP: &str = "INSERT INTO spend (
    dimension, id, day, requests, prompt_tokens, completion_tokens,
    provider_nanos, charge_nanos, gateway_nanos
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (dimension, id, day) DO UPDATE SET
    requests = MAX(MIN(requests + excluded.requests, 9223372036854775807), -9223372036854775808),
    prompt_tokens = MAX(MIN(prompt_tokens + excluded.prompt_tokens, 9223372036854775807), -9223372036854775808),
    completion_tokens = MAX(MIN(completion_tokens + excluded.completion_tokens, 9223372036854775807), -9223372036854775808),
    provider_nanos = MAX(MIN(provider_nanos + excluded.provider_nanos, 9223372036854775807), -9223372036854775808),
    charge_nanos = MAX(MIN(charge_nanos + excluded.charge_nanos, 9223372036854775807), -9223372036854775808),
    gateway_nanos = MAX(MIN(gateway_nanos + excluded.gateway_nanos, 9223372036854775807), -9223372036854775808)";

const SELECT_ROWS: &str = "SELECT seq,
    ts_ms, request_id, key_id, team, end_user, model, served_by,
    prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens, reasoning_tokens,
    provider_nanos, charge_nanos, gateway_nanos, priced
FROM ledger WHERE seq > ?1 ORDER BY seq LIMIT ?2";

const SPEND_COLUMNS: &str = "SELECT id, day, requests, prompt_tokens, completion_tokens,
    provider_nanos, charge_nanos, gateway_nanos FROM spend";

impl Store {
    /// Appends `rows` in one transaction, with their rollups, and returns the
    /// sequence number each row was given, in order. Numbers only grow and
    /// are never reused, so a peer that has seen up to `n` needs `> n`.
    pub fn append_ledger(&mut self, rows: &[LedgerRow]) -> Result<Vec<i64>, StoreError> {
        let blob = super::codec::encode(rows);
        let first = self.append_batch(rows, &blob, &rollups(rows))?;
        Ok((0..rows.len() as i64).map(|i| first + i).collect())
    }

    /// Appends `rows` in one transaction, packed as `blob` (their
    /// [`super::encode_ledger`]) with `sums` (their [`rollups`]; the caller
    /// may reuse both), and returns the first row's sequence number; the
    /// others follow it one by one.
    pub fn append_batch(
        &mut self,
        rows: &[LedgerRow],
        blob: &[u8],
        sums: &[Rollup],
    ) -> Result<i64, StoreError> {
        // BEGIN and COMMIT from the statement cache: `transaction()` parses
        // them again for every batch. Dropped uncommitted (an error, a
        // panic), the guard rolls back, so no half-batch is ever kept.
        let tx = Batch::begin(&self.conn)?;
        let mut first = 0;
        {
            if !rows.is_empty() {
                first = tx
                    .prepare_cached(NEXT_SEQ)
                    .and_then(|mut next| next.query_row([], |row| row.get(0)))
                    .map_err(sql("numbering a ledger batch"))?;
                tx.prepare_cached(INSERT_BATCH)
                    .and_then(|mut insert| insert.execute(params![first, rows.len() as i64, blob]))
                    .map_err(sql("appending to the ledger"))?;
            }
            let mut add = tx
                .prepare_cached(ADD_TO_ROLLUP)
                .map_err(sql("updating the spend rollups"))?;
            for line in sums {
                let t = &line.totals;
                add.execute(params![
                    line.dim.name(),
                    line.id,
                    line.day,
                    to_sql_int(t.requests),
                    to_sql_int(t.prompt_tokens),
                    to_sql_int(t.completion_tokens),
                    t.provider_nanos,
                    t.charge_nanos,
                    t.gateway_nanos,
                ])
                .map_err(sql("updating the spend rollups"))?;
            }
        }
        tx.commit()?;
        Ok(first)
    }

    /// Up to `limit` ledger rows after `since_seq`, oldest first: what a Redis
    /// peer that has applied up to `since_seq` still has to replay.
    pub fn ledger(
        &self,
        since_seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, LedgerRow)>, StoreError> {
        let mut select = self
            .conn
            .prepare_cached(SELECT_ROWS)
            .map_err(sql("reading the ledger"))?;
        let mut rows: Vec<(i64, LedgerRow)> = select
            .query_map(params![since_seq, to_sql_limit(limit)], |row| {
                Ok((row.get(0)?, ledger_row(row)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(sql("reading the ledger"))?;
        let mut batches = self
            .conn
            .prepare_cached(SELECT_BATCHES)
            .map_err(sql("reading the ledger"))?;
        let mut found = batches
            .query(params![since_seq])
            .map_err(sql("reading the ledger"))?;
        while rows.len() < limit {
            let Some(batch) = found.next().map_err(sql("reading the ledger"))? else {
                break;
            };
            let first: i64 = batch.get(0).map_err(sql("reading the ledger"))?;
            let count: i64 = batch.get(1).map_err(sql("reading the ledger"))?;
            let blob: Vec<u8> = batch.get(2).map_err(sql("reading the ledger"))?;
            let decoded = super::codec::decode(&blob, usize::try_from(count).unwrap_or(0))
                .map_err(|detail| StoreError::Corrupt {
                    table: "ledger_batches",
                    id: first.to_string(),
                    detail,
                })?;
            for (i, row) in decoded.into_iter().enumerate() {
                let seq = first + i as i64;
                if seq > since_seq && rows.len() < limit {
                    rows.push((seq, row));
                }
            }
        }
        Ok(rows)
    }

    /// The rollups of `dim` (one id, or every id) from `from_day` to `to_day`
    /// inclusive (days since the epoch, UTC), ordered by id, then day.
    pub fn spend(
        &self,
        dim: Dimension,
        id: Option<&str>,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<SpendRow>, StoreError> {
        let range = "dimension = ?1 AND day >= ?2 AND day <= ?3";
        let rows = match id {
            Some(id) => self
                .conn
                .prepare_cached(&format!(
                    "{SPEND_COLUMNS} WHERE {range} AND id = ?4 ORDER BY day"
                ))
                .and_then(|mut select| {
                    select
                        .query_map(params![dim.name(), from_day, to_day, id], spend_row)?
                        .collect()
                }),
            None => self
                .conn
                .prepare_cached(&format!("{SPEND_COLUMNS} WHERE {range} ORDER BY id, day"))
                .and_then(|mut select| {
                    select
                        .query_map(params![dim.name(), from_day, to_day], spend_row)?
                        .collect()
                }),
        };
        rows.map_err(sql("reading the spend rollups"))
    }

    /// What `dim`/`id` was charged (nano-USD) in the `period` that contains
    /// `day`: the figure a budget resumes from after a restart.
    pub fn charged(
        &self,
        dim: Dimension,
        id: &str,
        period: Period,
        day: i64,
    ) -> Result<i64, StoreError> {
        let from = period.start(day);
        let until = period.end(day).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "SELECT charge_nanos FROM spend
                 WHERE dimension = ?1 AND id = ?2 AND day >= ?3 AND day < ?4",
            )
            .and_then(|mut select| {
                // Summed here, saturating, where SQL's SUM fails on overflow.
                select
                    .query_map(params![dim.name(), id, from, until], |row| row.get(0))?
                    .try_fold(0_i64, |total, charge: rusqlite::Result<i64>| {
                        Ok(total.saturating_add(charge?))
                    })
            })
            .map_err(sql("summing a period's charges"))
    }
}

/// A ledger batch's transaction, begun and committed with cached
/// statements; rolled back if dropped uncommitted.
struct Batch<'c> {
    conn: &'c rusqlite::Connection,
}

impl<'c> Batch<'c> {
    fn begin(conn: &'c rusqlite::Connection) -> Result<Batch<'c>, StoreError> {
        conn.prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut begin| begin.execute([]))
            .map_err(sql("starting a ledger batch"))?;
        Ok(Batch { conn })
    }

    fn commit(self) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("COMMIT")
            .and_then(|mut commit| commit.execute([]))
            .map_err(sql("committing a ledger batch"))?;
        Ok(())
    }
}

impl std::ops::Deref for Batch<'_> {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        self.conn
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // Still in the transaction: dropped before COMMIT, or a COMMIT that
        // failed (which leaves it open). A committed batch is in autocommit.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Reads a ledger row from columns 1.. of [`SELECT_ROWS`] (0 is the seq).
fn ledger_row(row: &Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        ts_ms: from_sql_int(row.get(1)?),
        request_id: row.get(2)?,
        key_id: row.get(3)?,
        team: row.get(4)?,
        end_user: row.get(5)?,
        model: row.get(6)?,
        served_by: row.get(7)?,
        prompt_tokens: from_sql_int(row.get(8)?),
        cached_tokens: from_sql_int(row.get(9)?),
        cache_write_tokens: from_sql_int(row.get(10)?),
        completion_tokens: from_sql_int(row.get(11)?),
        reasoning_tokens: from_sql_int(row.get(12)?),
        provider_nanos: row.get(13)?,
        charge_nanos: row.get(14)?,
        gateway_nanos: row.get(15)?,
        priced: row.get(16)?,
    })
}

fn spend_row(row: &Row<'_>) -> rusqlite::Result<SpendRow> {
    Ok(SpendRow {
        id: row.get(0)?,
        day: Period::Day.id(row.get(1)?),
        requests: from_sql_int(row.get(2)?),
        prompt_tokens: from_sql_int(row.get(3)?),
        completion_tokens: from_sql_int(row.get(4)?),
        provider_nanos: row.get(5)?,
        charge_nanos: row.get(6)?,
        gateway_nanos: row.get(7)?,
    })
}
