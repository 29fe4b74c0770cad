//! The Redis tier: what N gateway instances share through one Redis — the
//! limits and budgets (the aggregator leases batches of them with Lua
//! scripts), the keys, teams and end users the admin API makes, and the
//! spend ledger (each batch the store commits is handed to the tier's thread
//! as it is written, and the store's ledger is tailed whenever that
//! hand-off has a gap, so spend recorded while Redis was away reaches it
//! when it returns). Every round trip happens on a background thread, never
//! on a request's path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::limits::{BucketSpec, FailoverSource, Lease, OutagePolicy, Refill, Source, SourceDown};
use super::state::Records;
use super::types::{Dimension, EndUserRecord, KeyRecord, Period, SpendRow, TeamRecord};
use crate::config::{Config, FailPolicy, RedisConfig};
use crate::store::ledger_writer::{Committed, OnCommit};
use crate::store::redis::{Redis, RedisTarget, SpendBatch, Tier};

/// Committed batches waiting for the tier's thread; beyond this the
/// hand-off drops them and the thread reads them back from the store.
const HANDOFF: usize = 256;

/// Rows read back from the store per round trip when catching up.
const TAIL_BATCH: i64 = 1_000;

/// Round trips every tier connection has made, for `/metrics` and the
/// benchmark's "Redis round trips per request".
pub static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);
/// Whether Redis is unreachable now (the limits run on their fallback
/// policy): the failover source's flag, once the tier has started.
static DEGRADED_FLAG: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);

/// Instances seen alive at the last heartbeat.
pub static INSTANCES: std::sync::LazyLock<Arc<AtomicU64>> =
    std::sync::LazyLock::new(|| Arc::new(AtomicU64::new(1)));

pub struct TierHandle {
    target: RedisTarget,
    prefix: String,
    /// Ledger rows the Redis stream keeps.
    ledger_rows: u64,
    instance: String,
    /// The admin API's connection.
    admin: Mutex<Tier>,
    store_path: String,
    policy: FailPolicy,
    fixed_instances: Option<u32>,
    /// Batches the ledger writer committed, on their way to Redis.
    handoff: (
        crossbeam::channel::Sender<SpendBatch>,
        crossbeam::channel::Receiver<SpendBatch>,
    ),
}

pub(crate) fn target_of(r: &RedisConfig) -> Result<RedisTarget, String> {
    let mut t = RedisTarget::parse_url(&r.url).map_err(|e| format!("governance.redis.url: {e}"))?;
    if let Some(p) = &r.password {
        let secret =
            crate::router::read_secret(p).map_err(|e| format!("governance.redis.password: {e}"))?;
        t.password = Some(secret.expose().to_owned());
    }
    t.username = r.username.clone();
    t.ca_file = r.ca_file.as_ref().map(Into::into);
    t.timeout = Duration::from_millis(r.timeout_ms);
    Ok(t)
}

/// A connection to the tier's Redis, its keys under `prefix`.
fn tier_at(target: &RedisTarget, prefix: &str, ledger_rows: u64) -> Tier {
    Tier::new(Redis::new(target.clone()), prefix).with_ledger_rows(ledger_rows)
}

impl TierHandle {
    /// Prepares the tier; connections open lazily, so a Redis that is down
    /// at start does not stop the gateway (the fail policy applies).
    pub fn connect(config: &Config) -> Result<TierHandle, String> {
        let r = config
            .governance
            .redis
            .as_ref()
            .ok_or("no [governance.redis]")?;
        let target = target_of(r)?;
        let instance = format!(
            "i-{}",
            super::keys::to_hex(&crate::router::health::random_u64().to_le_bytes())
        );
        Ok(TierHandle {
            admin: Mutex::new(tier_at(&target, &r.prefix, r.ledger_stream_rows)),
            ledger_rows: r.ledger_stream_rows,
            target,
            prefix: r.prefix.clone(),
            instance,
            store_path: config.governance.store.clone(),
            policy: r.on_unavailable,
            fixed_instances: r.instances,
            handoff: crossbeam::channel::bounded(HANDOFF),
        })
    }

    fn tier(&self) -> Tier {
        tier_at(&self.target, &self.prefix, self.ledger_rows)
    }

    /// The aggregator's source: Redis leases, with the configured policy
    /// for when Redis is away.
    pub fn source(&self) -> Box<dyn Source> {
        let share = 1.0 / f64::from(self.fixed_instances.unwrap_or(1).max(1));
        let policy = match self.policy {
            FailPolicy::FailOpen => OutagePolicy::FailOpen { share },
            FailPolicy::FailClosed => OutagePolicy::FailClosed,
        };
        let mut source = FailoverSource::new(
            Box::new(RedisSource {
                tier: self.tier(),
                counted: 0,
            }),
            policy,
            1_000,
        );
        if self.fixed_instances.is_none() {
            source = source.sharing_with(INSTANCES.clone());
        }
        *DEGRADED_FLAG.lock().unwrap_or_else(|e| e.into_inner()) = Some(source.degraded_flag());
        Box::new(source)
    }

    fn with_admin<T>(&self, f: impl FnOnce(&mut Tier) -> Result<T, String>) -> Result<T, String> {
        let mut t = self
            .admin
            .lock()
            .map_err(|_| "the Redis connection is unavailable".to_string())?;
        f(&mut t)
    }

    pub fn records(&self) -> Option<Records> {
        self.with_admin(|t| {
            Ok(Records {
                keys: t.keys().map_err(|e| e.to_string())?,
                teams: t.teams().map_err(|e| e.to_string())?,
                end_users: t.end_users().map_err(|e| e.to_string())?,
            })
        })
        .ok()
    }

    pub fn put_key(&self, k: &KeyRecord) -> Result<(), String> {
        self.with_admin(|t| t.put_key(k).map(|_| ()).map_err(|e| format!("Redis: {e}")))
    }

    pub fn put_team(&self, r: &TeamRecord) -> Result<(), String> {
        self.with_admin(|t| t.put_team(r).map(|_| ()).map_err(|e| format!("Redis: {e}")))
    }

    pub fn put_end_user(&self, r: &EndUserRecord) -> Result<(), String> {
        self.with_admin(|t| {
            t.put_end_user(r)
                .map(|_| ())
                .map_err(|e| format!("Redis: {e}"))
        })
    }

    pub fn delete_record(&self, what: &str, id: &str) -> Result<(), String> {
        self.with_admin(|t| {
            match what {
                "team" => t.delete_team(id),
                _ => t.delete_end_user(id),
            }
            .map(|_| ())
            .map_err(|e| format!("Redis: {e}"))
        })
    }

    pub fn spend(
        &self,
        dim: Dimension,
        id: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<SpendRow>, String> {
        self.with_admin(|t| t.spend(dim, id, from, to).map_err(|e| e.to_string()))
    }

    pub fn charged(
        &self,
        dim: Dimension,
        id: &str,
        period: Period,
        day: i64,
    ) -> Result<i64, String> {
        self.with_admin(|t| t.charged(dim, id, period, day).map_err(|e| e.to_string()))
    }

    /// The tier's background thread: heartbeats (how many instances share
    /// the limits), new keys from other instances, and the ledger tail.
    pub fn spawn_sync(self: &Arc<Self>) {
        let me = self.clone();
        let _ = std::thread::Builder::new()
            .name("tollgate-redis-sync".into())
            .spawn(move || me.sync_loop());
    }

    /// The ledger writer's hook: each committed batch, summed and packed by
    /// the writer, goes to the tier's thread without being read back from
    /// the store. A full hand-off drops it: the thread finds the
    /// gap and reads those rows from the store instead.
    pub fn commit_hook(&self) -> OnCommit {
        let tx = self.handoff.0.clone();
        Box::new(move |c: &Committed<'_>| {
            let _ = tx.try_send(SpendBatch::packed(
                c.first_seq,
                c.rows.len(),
                c.packed.to_vec(),
                c.rollups.to_vec(),
            ));
        })
    }

    fn sync_loop(&self) {
        let mut tier = self.tier();
        let mut ledger = LedgerSync::default();
        let mut seen_version = i64::MIN;
        let mut last_trips = 0;
        loop {
            let up = match tier.heartbeat(&self.instance, 3_000) {
                Ok(n) => {
                    INSTANCES.store(n.max(1), Ordering::Relaxed);
                    true
                }
                Err(_) => false,
            };
            if up {
                if let Ok(v) = tier.records_version()
                    && v != seen_version
                {
                    seen_version = v;
                    if let Some(rt) = super::runtime::get() {
                        rt.reload_records();
                    }
                }
                if ledger.store.is_none() {
                    ledger.open(&self.store_path);
                }
                ledger.ship(&mut tier, &self.handoff.1);
            } else {
                // What arrives while Redis is away is read back later.
                while self.handoff.1.try_recv().is_ok() {}
            }
            ROUND_TRIPS.fetch_add(
                tier.round_trips().saturating_sub(last_trips),
                Ordering::Relaxed,
            );
            last_trips = tier.round_trips();
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The tier thread's view of the store's ledger: what Redis has applied,
/// and a batch whose answer was lost, sent again exactly as it was (the
/// same rows under the same marker) so Redis applies it once.
#[derive(Default)]
struct LedgerSync {
    store: Option<crate::store::Store>,
    /// The name this store's batches go to Redis under.
    peer: String,
    /// The last sequence number Redis has applied (also kept in the store).
    synced: i64,
    retry: Option<SpendBatch>,
}

impl LedgerSync {
    fn open(&mut self, path: &str) {
        let Ok(store) = crate::store::Store::open(std::path::Path::new(path)) else {
            return;
        };
        let Some(peer) = store_identity(&store) else {
            return;
        };
        let Ok(synced) = store.synced_seq(&peer) else {
            return;
        };
        (self.peer, self.synced, self.store) = (peer, synced, Some(store));
    }

    /// Sends Redis what it has not applied: a batch whose answer was lost;
    /// then the batches handed over, merged into one when they follow on
    /// from what Redis has; else (a gap: dropped hand-offs, a restart, an
    /// outage) the store's rows, a thousand at a time.
    fn ship(&mut self, tier: &mut Tier, handoff: &crossbeam::channel::Receiver<SpendBatch>) {
        if self.store.is_none() {
            return;
        }
        if let Some(batch) = self.retry.take()
            && !self.apply(tier, batch)
        {
            return;
        }
        let mut merged: Option<SpendBatch> = None;
        let mut gap = false;
        for batch in handoff.try_iter().take(HANDOFF) {
            if batch.last_seq <= self.synced || gap {
                continue;
            }
            match &mut merged {
                None if batch.first_seq == self.synced + 1 => merged = Some(batch),
                None => gap = true,
                Some(m) => gap = m.absorb(batch).is_err(),
            }
        }
        if let Some(batch) = merged
            && !self.apply(tier, batch)
        {
            return;
        }
        if gap {
            self.tail(tier);
        }
    }

    /// The store's rows after `synced`, up to 64 000 of them.
    fn tail(&mut self, tier: &mut Tier) {
        for _ in 0..64 {
            let Some(store) = &self.store else { return };
            let Ok(rows) = store.ledger(self.synced, TAIL_BATCH as usize) else {
                return;
            };
            let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                return;
            };
            let (first, last) = (first.0, last.0);
            let plain: Vec<_> = rows.into_iter().map(|(_, r)| r).collect();
            let sums = super::rollup::rollups(&plain);
            let mut batch = SpendBatch::new(first, &plain, sums);
            batch.last_seq = last;
            if !self.apply(tier, batch) {
                return;
            }
        }
    }

    /// False: Redis did not answer, and the batch waits to be sent again.
    fn apply(&mut self, tier: &mut Tier, batch: SpendBatch) -> bool {
        if tier.apply_batch(&self.peer, &batch).is_err() {
            self.retry = Some(batch);
            return false;
        }
        self.synced = batch.last_seq;
        if let Some(store) = &self.store {
            let _ = store.set_synced_seq(&self.peer, self.synced);
        }
        true
    }
}

/// The name a store's ledger goes to Redis under: random, made once and
/// kept in the store, so two instances' batches never share a replay
/// marker and a restarted instance resumes where it stopped.
fn store_identity(store: &crate::store::Store) -> Option<String> {
    const IDENTITY: &str = "identity";
    let mut id = store.synced_seq(IDENTITY).ok()?;
    if id == 0 {
        id = (crate::router::health::random_u64() >> 1).max(1) as i64;
        store.set_synced_seq(IDENTITY, id).ok()?;
    }
    Some(format!("store-{id:x}"))
}

/// The limiter's view of Redis: leases and charges, one round trip each.
struct RedisSource {
    tier: Tier,
    counted: u64,
}

impl RedisSource {
    /// Adds the round trips made since the last count to [`ROUND_TRIPS`].
    fn count(&mut self) {
        let now = self.tier.round_trips();
        ROUND_TRIPS.fetch_add(now.saturating_sub(self.counted), Ordering::Relaxed);
        self.counted = now;
    }
}

impl Source for RedisSource {
    fn is_local(&self) -> bool {
        false
    }

    fn lease(
        &mut self,
        spec: &BucketSpec,
        want: i64,
        _held: i64,
        _now_ms: u64,
        day: i64,
    ) -> Result<Lease, SourceDown> {
        let r = match spec.refill {
            Refill::PerMinute => self
                .tier
                .lease_rate(&spec.id, spec.capacity, per_ms(spec), want),
            Refill::Period(p) => {
                self.tier
                    .lease_budget(&spec.id, &p.id(day), spec.capacity, want, ttl(p, day))
            }
        };
        self.count();
        r.map(|l| Lease {
            granted: l.granted,
            remaining: l.remaining,
        })
        .map_err(|_| SourceDown)
    }

    fn give_back(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        match spec.refill {
            Refill::PerMinute => self
                .tier
                .give_back_rate(&spec.id, spec.capacity, per_ms(spec), n),
            Refill::Period(p) => self
                .tier
                .give_back_budget(&spec.id, &p.id(day), spec.capacity, n),
        }
        .map(|_| self.count())
        .map_err(|_| SourceDown)
    }

    fn charge(&mut self, spec: &BucketSpec, n: i64, day: i64) -> Result<(), SourceDown> {
        match spec.refill {
            Refill::PerMinute => self
                .tier
                .charge_rate(&spec.id, spec.capacity, per_ms(spec), n),
            Refill::Period(p) => {
                self.tier
                    .charge_budget(&spec.id, &p.id(day), spec.capacity, n, ttl(p, day))
            }
        }
        .map(|_| self.count())
        .map_err(|_| SourceDown)
    }
}

fn per_ms(spec: &BucketSpec) -> f64 {
    spec.capacity as f64 / 60_000.0
}

/// How long Redis keeps a budget period's counter: to the period's end and
/// a day more (0: a total budget never expires).
fn ttl(p: Period, day: i64) -> u64 {
    p.end(day).map_or(0, |end| {
        let now = crate::resilience::unix_secs();
        ((end + 1) as u64 * 86_400).saturating_sub(now)
    })
}

/// The tier's gauges: whether Redis is away (the limits on their fallback
/// policy) and the round trips made, for `/metrics`. Empty without the tier.
pub fn metrics_text() -> String {
    let Some(flag) = DEGRADED_FLAG.lock().ok().and_then(|f| f.clone()) else {
        return String::new();
    };
    format!(
        "# TYPE tollgate_governance_redis_degraded gauge\ntollgate_governance_redis_degraded {}\n\
         # TYPE tollgate_governance_redis_round_trips_total counter\ntollgate_governance_redis_round_trips_total {}\n\
         # TYPE tollgate_governance_redis_instances gauge\ntollgate_governance_redis_instances {}\n",
        u8::from(flag.load(Ordering::Relaxed)),
        ROUND_TRIPS.load(Ordering::Relaxed),
        INSTANCES.load(Ordering::Relaxed),
    )
}
