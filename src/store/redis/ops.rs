//! The gateway's operations on the Redis tier. N instances share one set of
//! limits, budgets, spend and records through these; each write is one
//! atomic Lua script (one round trip), so no two instances ever interleave
//! halfway through a lease or a batch.
//!
//! Keys, under the tier's prefix (`tg:`):
//!
//! | key                                 | holds                                   |
//! |-------------------------------------|-----------------------------------------|
//! | `rate:{id}`                         | token bucket: hash `level`, `ts`        |
//! | `budget:{period id}:{id}`           | consumed nano-USD in that period        |
//! | `batch:{seq}:{instance}`            | "applied" marker of a ledger batch      |
//! | `ledger`                            | stream of ledger rows (JSON), capped    |
//! | `spend:{dim}:{YYYY-MM-DD}:{id}`     | one day's rollup (hash of six counters) |
//! | `spend-ids:{dim}:{YYYY-MM-DD}`      | ids with spend that day                 |
//! | `spend:{dim}:total:{id}`            | all-time rollup                         |
//! | `keys`, `teams`, `end_users`        | hash id → record JSON                   |
//! | `records:version`                   | bumped on every record change           |
//! | `instances`                         | sorted set, instance → expiry (ms)      |
//!
//! Lua numbers are doubles: amounts are exact up to 2^53 (9e15 nano-USD,
//! $9M, or 9e15 tokens); larger limits are clamped there, which is as good
//! as unlimited.

mod records;
mod spend;

use std::sync::LazyLock;

use super::{Redis, RedisError, Script, Value};

pub use spend::{RETENTION_DAYS, SpendBatch};

pub const DEFAULT_PREFIX: &str = "tg:";

/// The largest integer a Lua number holds exactly.
const MAX_EXACT: i64 = (1 << 53) - 1;

static RATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/rate.lua")));
static BUDGET: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/budget.lua")));

/// What a lease, give-back or charge left: `granted` of what was asked
/// (0 for give-backs and charges), the shared `remaining` after it
/// (negative: debt), and when it resets — for a rate bucket, ms until full
/// (0: it never refills); for a budget, ms until its counter expires
/// (0: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lease {
    pub granted: i64,
    pub remaining: i64,
    pub reset_ms: u64,
}

#[derive(Debug)]
pub struct Tier {
    redis: Redis,
    prefix: String,
    /// Ledger rows the stream keeps.
    ledger_rows: u64,
}

impl Tier {
    pub fn new(redis: Redis, prefix: &str) -> Tier {
        Tier {
            redis,
            prefix: prefix.to_owned(),
            ledger_rows: spend::LEDGER_STREAM_ROWS,
        }
    }

    /// Keeps at most `rows` ledger rows on the stream: older batches are
    /// deleted to make room, the newest always kept (even one larger).
    pub fn with_ledger_rows(mut self, rows: u64) -> Tier {
        self.ledger_rows = rows.max(1);
        self
    }

    /// The client underneath, for its counters or a raw command.
    pub fn redis(&mut self) -> &mut Redis {
        &mut self.redis
    }

    pub fn round_trips(&self) -> u64 {
        self.redis.round_trips()
    }

    /// Takes up to `want` tokens from the shared bucket `id` (holding
    /// `capacity`, refilled by `per_ms` tokens a millisecond).
    pub fn lease_rate(
        &mut self,
        id: &str,
        capacity: i64,
        per_ms: f64,
        want: i64,
    ) -> Result<Lease, RedisError> {
        self.rate("lease", id, capacity, per_ms, want)
    }

    /// Returns `n` leased tokens that were not used (never above capacity).
    pub fn give_back_rate(
        &mut self,
        id: &str,
        capacity: i64,
        per_ms: f64,
        n: i64,
    ) -> Result<Lease, RedisError> {
        self.rate("give", id, capacity, per_ms, n)
    }

    /// Takes `n` tokens unconditionally (usage above what was leased); the
    /// level may go negative, a debt the refill pays before anyone leases.
    pub fn charge_rate(
        &mut self,
        id: &str,
        capacity: i64,
        per_ms: f64,
        n: i64,
    ) -> Result<Lease, RedisError> {
        self.rate("charge", id, capacity, per_ms, n)
    }

    fn rate(
        &mut self,
        op: &str,
        id: &str,
        capacity: i64,
        per_ms: f64,
        n: i64,
    ) -> Result<Lease, RedisError> {
        if !per_ms.is_finite() || per_ms < 0.0 {
            return Err(RedisError::Invalid(
                "a refill rate must be finite and >= 0".into(),
            ));
        }
        let key = self.redis_key(&["rate", id]);
        let args = [
            op.to_owned(),
            amount(n)?,
            exact(capacity),
            per_ms.to_string(),
        ];
        let reply = self.redis.eval(&RATE, &[&key], &as_slices(&args))?;
        lease(reply, "the rate script")
    }

    /// Takes up to `want` nano-USD of budget `id` in period `period_id`
    /// (`2026-12-02`, `2026-12`, `total`) under `limit`. `ttl_secs` (0:
    /// never) is how long the counter must outlive its last write: the time
    /// left in the period, so it vanishes when the period ends.
    pub fn lease_budget(
        &mut self,
        id: &str,
        period_id: &str,
        limit: i64,
        want: i64,
        ttl_secs: u64,
    ) -> Result<Lease, RedisError> {
        self.budget("lease", id, period_id, limit, want, ttl_secs)
    }

    /// Returns `n` leased nano-USD that were not spent (never below zero).
    pub fn give_back_budget(
        &mut self,
        id: &str,
        period_id: &str,
        limit: i64,
        n: i64,
    ) -> Result<Lease, RedisError> {
        self.budget("give", id, period_id, limit, n, 0)
    }

    /// Adds `n` nano-USD whatever the limit: spend above a reservation, and
    /// spend replayed after an outage.
    pub fn charge_budget(
        &mut self,
        id: &str,
        period_id: &str,
        limit: i64,
        n: i64,
        ttl_secs: u64,
    ) -> Result<Lease, RedisError> {
        self.budget("charge", id, period_id, limit, n, ttl_secs)
    }

    fn budget(
        &mut self,
        op: &str,
        id: &str,
        period_id: &str,
        limit: i64,
        n: i64,
        ttl_secs: u64,
    ) -> Result<Lease, RedisError> {
        let key = self.redis_key(&["budget", period_id, id]);
        let args = [
            op.to_owned(),
            amount(n)?,
            exact(limit),
            ttl_secs.to_string(),
        ];
        let reply = self.redis.eval(&BUDGET, &[&key], &as_slices(&args))?;
        lease(reply, "the budget script")
    }

    /// The prefix and `parts` joined by `:`. Only the last part may be a
    /// free-form id; the others never hold a `:`, so keys cannot collide.
    fn redis_key(&self, parts: &[&str]) -> Vec<u8> {
        let len = parts.iter().map(|p| p.len() + 1).sum::<usize>();
        let mut key = Vec::with_capacity(self.prefix.len() + len);
        self.write_key(&mut key, parts);
        key
    }

    fn write_key(&self, out: &mut Vec<u8>, parts: &[&str]) {
        out.extend_from_slice(self.prefix.as_bytes());
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            out.extend_from_slice(part.as_bytes());
        }
    }
}

/// A command's arguments written one after another into one buffer: a
/// batch's dozens of keys and numbers cost no allocation each.
#[derive(Default)]
struct Args {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Args {
    fn with_capacity(args: usize, bytes: usize) -> Args {
        Args {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(args),
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
        self.ends.push(self.bytes.len());
    }

    /// `n` in decimal, as `to_string` writes it.
    fn int(&mut self, n: i64) {
        if n < 0 {
            self.bytes.push(b'-');
        }
        self.uint(n.unsigned_abs());
    }

    fn uint(&mut self, n: u64) {
        crate::canonical::json::write_u64(&mut self.bytes, n);
        self.ends.push(self.bytes.len());
    }

    fn key(&mut self, tier: &Tier, parts: &[&str]) {
        tier.write_key(&mut self.bytes, parts);
        self.ends.push(self.bytes.len());
    }

    fn slices(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let arg = &self.bytes[start..end];
                start = end;
                arg
            })
            .collect()
    }
}

/// An amount to add or take: never negative, exact in Lua.
fn amount(n: i64) -> Result<String, RedisError> {
    if n < 0 {
        return Err(RedisError::Invalid("an amount must not be negative".into()));
    }
    Ok(exact(n))
}

fn exact(n: i64) -> String {
    n.clamp(-MAX_EXACT, MAX_EXACT).to_string()
}

fn as_slices<T: AsRef<[u8]>>(items: &[T]) -> Vec<&[u8]> {
    items.iter().map(AsRef::as_ref).collect()
}

/// An error reply inside a pipeline's answers, as the error it is.
fn checked(reply: Value) -> Result<Value, RedisError> {
    match reply {
        Value::Error(message) => Err(RedisError::Server(message)),
        value => Ok(value),
    }
}

fn lease(reply: Value, what: &str) -> Result<Lease, RedisError> {
    let unexpected = || RedisError::Unexpected(format!("{what}: not three integers"));
    let items = reply.into_array().ok_or_else(unexpected)?;
    match items.as_slice() {
        [
            Value::Int(granted),
            Value::Int(remaining),
            Value::Int(reset),
        ] => Ok(Lease {
            granted: *granted,
            remaining: *remaining,
            reset_ms: u64::try_from(*reset).unwrap_or(0),
        }),
        _ => Err(unexpected()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Args, Tier};
    use crate::store::redis::{Redis, RedisTarget};

    #[test]
    fn args_are_written_as_to_string_writes_them_and_keys_as_redis_key() {
        let target = RedisTarget::parse_url("redis://127.0.0.1:1").unwrap();
        let tier = Tier::new(Redis::new(target), "tg:");
        let mut args = Args::with_capacity(0, 0);
        let ints = [0, 7, -7, 10, -10, 1234567890123, i64::MAX, i64::MIN];
        for n in ints {
            args.int(n);
        }
        args.uint(u64::MAX);
        args.bytes(b"");
        args.bytes("ünï:code".as_bytes());
        let parts: [&[&str]; 3] = [&["ledger"], &["spend", "key", "d20000", "k:1"], &[]];
        for p in parts {
            args.key(&tier, p);
        }
        let mut want: Vec<Vec<u8>> = ints.iter().map(|n| n.to_string().into_bytes()).collect();
        want.push(u64::MAX.to_string().into_bytes());
        want.push(Vec::new());
        want.push("ünï:code".as_bytes().to_vec());
        want.extend(parts.iter().map(|p| tier.redis_key(p)));
        assert_eq!(args.slices(), want);
        assert_eq!(
            tier.redis_key(&["spend", "key", "total", "k"]),
            b"tg:spend:key:total:k"
        );
    }
}
