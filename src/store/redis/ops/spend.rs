//! Spend on the Redis tier: ledger batches applied once each, rolled up per
//! dimension and UTC day (and all time), and read back for reports and
//! budgets. Rows are summed per group here, so Redis does one `HINCRBY` per
//! group and counter rather than per row.

use std::sync::LazyLock;

use crate::governance::rollup::{Rollup, merge, rollups};
use crate::governance::types::{Dimension, LedgerRow, Period, SpendRow};

use super::{Args, Tier, checked};
use crate::store::redis::{RedisError, Script, Value};

/// Days a daily rollup is kept in Redis (the embedded store keeps them all);
/// a spend query spans at most this many days.
pub const RETENTION_DAYS: i64 = 400;

/// How long a batch's marker guards against a replay.
const BATCH_MARKER_TTL_SECS: u64 = 7 * 86_400;

/// Ledger rows the stream keeps by default (`ledger_stream_rows`).
pub const LEDGER_STREAM_ROWS: u64 = 1_000_000;

/// Rollup reads per pipeline, so a report over many ids stays in bounded
/// requests and replies.
const READ_CHUNK: usize = 1000;

/// A rollup's counters, in the order the script takes them.
const FIELDS: [&str; 6] = [
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "provider_nanos",
    "charge_nanos",
    "gateway_nanos",
];
const CHARGE: &[u8] = b"charge_nanos";

static SPEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/spend.lua")));

impl Tier {
    /// Applies one batch of `instance`'s ledger rows: rollups per dimension
    /// and day, and each row onto the ledger stream — atomically, and once:
    /// the same `(instance, batch_seq)` sent again changes nothing and
    /// returns `false`. An empty batch does nothing and sends nothing.
    pub fn apply_spend(
        &mut self,
        instance: &str,
        batch_seq: i64,
        rows: &[LedgerRow],
    ) -> Result<bool, RedisError> {
        let mut batch = SpendBatch::new(batch_seq, rows, rollups(rows));
        batch.last_seq = batch_seq;
        self.apply_batch(instance, &batch)
    }

    /// [`Tier::apply_spend`] for a batch already summed and written out; its
    /// `last_seq` marks it, so a batch sent again is applied once.
    pub fn apply_batch(&mut self, instance: &str, batch: &SpendBatch) -> Result<bool, RedisError> {
        if batch.rows == 0 {
            return Ok(true);
        }
        let lines = batch.rollups.len();
        let mut keys = Args::with_capacity(4 + 3 * lines, 64 * (4 + 3 * lines));
        keys.key(self, &["batch", &batch.last_seq.to_string(), instance]);
        keys.key(self, &["ledger"]);
        keys.key(self, &["ledger", "batches"]);
        keys.key(self, &["ledger", "rows"]);
        let mut args = Args::with_capacity(6 + 7 * lines + 2 * batch.packed.len(), 256 * lines);
        args.uint(BATCH_MARKER_TTL_SECS);
        args.int(RETENTION_DAYS * 86_400);
        args.uint(self.ledger_rows);
        args.bytes(instance.as_bytes());
        args.uint(lines as u64);
        for line in &batch.rollups {
            let (dim, day) = (line.dim.name(), Period::Day.id(line.day));
            keys.key(self, &day_key_parts(dim, &day, &line.id));
            keys.key(self, &["spend-ids", dim, &day]);
            keys.key(self, &["spend", dim, "total", &line.id]);
            args.bytes(line.id.as_bytes());
            for n in line.totals.counters() {
                args.int(n);
            }
        }
        args.uint(batch.packed.len() as u64);
        for (first, count, _) in &batch.packed {
            args.int(*first);
            args.uint(*count as u64);
        }
        let mut slices = args.slices();
        slices.extend(batch.packed.iter().map(|(_, _, rows)| rows.as_slice()));
        let keys = keys.slices();
        let reply = self.redis.eval(&SPEND, &keys, &slices)?;
        match reply {
            Value::Int(1) => Ok(true),
            Value::Int(0) => Ok(false),
            _ => Err(RedisError::Unexpected(
                "the spend script: not 0 or 1".into(),
            )),
        }
    }

    /// Rolled-up spend in `dim` from `from_day` to `to_day` (days since the
    /// epoch, inclusive), for one id or every id, ordered by id then day;
    /// days with no spend are left out. Two round trips for every id (the
    /// day indexes, then the rollups), one for a single id.
    pub fn spend(
        &mut self,
        dim: Dimension,
        id: Option<&str>,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<SpendRow>, RedisError> {
        if to_day < from_day {
            return Ok(Vec::new());
        }
        if to_day - from_day >= RETENTION_DAYS {
            return Err(RedisError::Invalid(format!(
                "a spend query spans at most {RETENTION_DAYS} days"
            )));
        }
        let days: Vec<String> = (from_day..=to_day).map(|d| Period::Day.id(d)).collect();
        let mut wanted: Vec<(String, usize)> = match id {
            Some(id) => (0..days.len()).map(|i| (id.to_owned(), i)).collect(),
            None => self.ids_by_day(dim, &days)?,
        };
        wanted.sort();
        let mut rows = Vec::new();
        for chunk in wanted.chunks(READ_CHUNK) {
            let cmds: Vec<Vec<Vec<u8>>> = chunk
                .iter()
                .map(|(id, day)| {
                    let mut cmd =
                        vec![b"HMGET".to_vec(), self.day_key(dim.name(), &days[*day], id)];
                    cmd.extend(FIELDS.iter().map(|f| f.as_bytes().to_vec()));
                    cmd
                })
                .collect();
            let replies = self.redis.pipeline(&cmds)?;
            for ((id, day), reply) in chunk.iter().zip(replies) {
                if let Some(row) = spend_row(checked(reply)?, id, &days[*day])? {
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }

    /// What `id` was charged (nano-USD) in `dim` over the period holding
    /// `day`: one round trip (the day's rollup, every day of the month in
    /// one pipeline, or the all-time rollup).
    pub fn charged(
        &mut self,
        dim: Dimension,
        id: &str,
        period: Period,
        day: i64,
    ) -> Result<i64, RedisError> {
        let hget = |key: Vec<u8>| vec![b"HGET".to_vec(), key, CHARGE.to_vec()];
        let cmds: Vec<Vec<Vec<u8>>> = match period.end(day) {
            None => vec![hget(self.redis_key(&["spend", dim.name(), "total", id]))],
            Some(end) => (period.start(day)..end)
                .map(|d| hget(self.day_key(dim.name(), &Period::Day.id(d), id)))
                .collect(),
        };
        let mut total: i64 = 0;
        for reply in self.redis.pipeline(&cmds)? {
            let n = checked(reply)?
                .to_i64()
                .ok_or_else(|| RedisError::Unexpected("a charge that is not an integer".into()))?;
            total = total.saturating_add(n);
        }
        Ok(total)
    }

    /// Every `(id, index into days)` with spend, from the days' indexes.
    fn ids_by_day(
        &mut self,
        dim: Dimension,
        days: &[String],
    ) -> Result<Vec<(String, usize)>, RedisError> {
        let cmds: Vec<Vec<Vec<u8>>> = days
            .iter()
            .map(|day| {
                vec![
                    b"SMEMBERS".to_vec(),
                    self.redis_key(&["spend-ids", dim.name(), day]),
                ]
            })
            .collect();
        let mut wanted = Vec::new();
        for (i, reply) in self.redis.pipeline(&cmds)?.into_iter().enumerate() {
            let members = checked(reply)?
                .into_array()
                .ok_or_else(|| RedisError::Unexpected("SMEMBERS: not an array".into()))?;
            for member in members {
                let id = member
                    .as_bytes()
                    .ok_or_else(|| RedisError::Unexpected("SMEMBERS: not a string".into()))?;
                wanted.push((String::from_utf8_lossy(id).into_owned(), i));
            }
        }
        Ok(wanted)
    }

    fn day_key(&self, dim: &str, day: &str, id: &str) -> Vec<u8> {
        self.redis_key(&day_key_parts(dim, day, id))
    }
}

/// A day's rollup's key, below the prefix: the script writes it, reports
/// read it.
fn day_key_parts<'a>(dim: &'a str, day: &'a str, id: &'a str) -> [&'a str; 4] {
    ["spend", dim, day, id]
}

/// A day's rollup from `HMGET`'s six answers; `None` when it has none.
fn spend_row(reply: Value, id: &str, day: &str) -> Result<Option<SpendRow>, RedisError> {
    let values = reply
        .into_array()
        .filter(|v| v.len() == FIELDS.len())
        .ok_or_else(|| RedisError::Unexpected("HMGET: not six values".into()))?;
    if values.iter().all(|v| *v == Value::Nil) {
        return Ok(None);
    }
    let mut n = [0i64; 6];
    for (slot, value) in n.iter_mut().zip(&values) {
        *slot = value.to_i64().ok_or_else(|| {
            RedisError::Unexpected("a rollup counter that is not an integer".into())
        })?;
    }
    let count = |i: usize| u64::try_from(n[i]).unwrap_or(0);
    Ok(Some(SpendRow {
        id: id.to_owned(),
        day: day.to_owned(),
        requests: count(0),
        prompt_tokens: count(1),
        completion_tokens: count(2),
        provider_nanos: n[3],
        charge_nanos: n[4],
        gateway_nanos: n[5],
    }))
}

/// A batch of ledger rows ready for Redis: sequence numbers `first_seq` to
/// `last_seq`, summed, and packed as the store keeps them (one stream
/// entry per batch the store committed).
#[derive(Debug, Clone)]
pub struct SpendBatch {
    pub first_seq: i64,
    pub last_seq: i64,
    pub rows: usize,
    pub rollups: Vec<Rollup>,
    /// Each committed batch's first sequence number, row count and rows
    /// packed ([`crate::store::sqlite::encode_ledger`]).
    packed: Vec<(i64, usize, Vec<u8>)>,
}

impl SpendBatch {
    /// `rows` numbered from `first_seq`, with their [`rollups`].
    pub fn new(first_seq: i64, rows: &[LedgerRow], rollups: Vec<Rollup>) -> SpendBatch {
        let packed = crate::store::sqlite::encode_ledger(rows);
        SpendBatch::packed(first_seq, rows.len(), packed, rollups)
    }

    /// `count` rows numbered from `first_seq`, already packed, with their
    /// [`rollups`].
    pub fn packed(
        first_seq: i64,
        count: usize,
        packed: Vec<u8>,
        rollups: Vec<Rollup>,
    ) -> SpendBatch {
        SpendBatch {
            first_seq,
            last_seq: first_seq + count as i64 - 1,
            rows: count,
            rollups,
            packed: if count > 0 {
                vec![(first_seq, count, packed)]
            } else {
                Vec::new()
            },
        }
    }

    /// Appends the batch that follows this one (its first row the next
    /// number), so both go to Redis in one round trip. `Err`: it does not
    /// follow.
    pub fn absorb(&mut self, next: SpendBatch) -> Result<(), SpendBatch> {
        if next.first_seq != self.last_seq + 1 {
            return Err(next);
        }
        self.last_seq = next.last_seq;
        self.rows += next.rows;
        self.packed.extend(next.packed);
        merge(&mut self.rollups, &next.rollups);
        Ok(())
    }
}
