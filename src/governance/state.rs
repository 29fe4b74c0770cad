//! The governance state a request reads: every key by digest, the teams,
//! end users, models and providers with limits, and the buckets that hold
//! them — one immutable snapshot, rebuilt whenever the config, the admin API
//! or the Redis tier changes what it holds, and read per core like the
//! routing snapshot (a plain atomic load to see whether it changed).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use crate::runtime::published::{Core, Published};

use rustc_hash::FxHashMap;

use super::keys::{Digest, from_hex};
use super::limits::{Bucket, BucketSpec, Limiter, Refill, Reserve};
use super::types::{Budgets, EndUserRecord, KeyRecord, Period, RateLimits, TeamRecord};
use crate::config::Config;

/// Bucket indices for a requests/min and a tokens/min limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateBuckets {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

/// Bucket indices for the day, month and total budgets.
#[derive(Debug, Clone, Copy, Default)]
pub struct BudgetBuckets(pub [Option<u32>; 3]);

#[derive(Debug)]
pub struct Key {
    pub record: KeyRecord,
    /// The key's id and team name, shared: each request's record and
    /// ledger row holds them without a copy.
    pub id_shared: std::sync::Arc<str>,
    pub team_shared: Option<std::sync::Arc<str>>,
    /// The key's team, by index into `GovSnapshot::teams`.
    pub team: Option<usize>,
    pub rates: RateBuckets,
    pub budgets: BudgetBuckets,
}

impl std::ops::Deref for Key {
    type Target = KeyRecord;
    fn deref(&self) -> &KeyRecord {
        &self.record
    }
}

#[derive(Debug)]
pub struct Team {
    pub record: TeamRecord,
    pub rates: RateBuckets,
    pub budgets: BudgetBuckets,
}

#[derive(Default)]
pub struct GovSnapshot {
    /// Requests must present a key.
    pub required: bool,
    /// Anything is limited, budgeted or recorded (else the request path skips governance).
    pub active: bool,
    pub ledger: bool,
    pub end_user_header: String,
    pub keys: Vec<Key>,
    by_digest: FxHashMap<Digest, usize>,
    pub teams: Vec<Team>,
    team_ids: FxHashMap<String, usize>,
    pub end_users: FxHashMap<String, BudgetBuckets>,
    pub models: FxHashMap<String, RateBuckets>,
    pub providers: FxHashMap<String, RateBuckets>,
    pub buckets: Vec<Arc<Bucket>>,
    /// This snapshot's number, never reused (0: none), naming it in each
    /// core's memo of the last key looked up.
    generation: u64,
}

impl GovSnapshot {
    /// The key whose secret hashes to `d`. Each core remembers the last
    /// one it found, by snapshot number and digest: a client's keep-alive
    /// connection presents the same key every request.
    pub fn by_digest(&self, d: &Digest) -> Option<&Key> {
        thread_local! {
            static LAST: Cell<(u64, Digest, usize)> = const { Cell::new((0, [0; 32], 0)) };
        }
        let (generation, digest, i) = LAST.get();
        if generation == self.generation && generation != 0 && digest == *d {
            return self.keys.get(i);
        }
        let i = *self.by_digest.get(d)?;
        LAST.set((self.generation, *d, i));
        self.keys.get(i)
    }

    pub fn team_of(&self, key: &Key) -> Option<&Team> {
        key.team.map(|i| &self.teams[i])
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.team_ids.get(id).map(|&i| &self.teams[i])
    }

    pub fn bucket(&self, i: u32) -> &Bucket {
        &self.buckets[i as usize]
    }

    /// Builds the snapshot from the config and the stored records, defining
    /// (or re-defining, state kept) each bucket in the limiter. `charged`
    /// answers what a budget has already been charged in its current period
    /// (from the store or Redis), for buckets the limiter had not seen.
    pub fn build(
        config: &Config,
        stored: &Records,
        limiter: &Limiter,
        charged: &mut dyn FnMut(&str, Period) -> i64,
    ) -> GovSnapshot {
        let g = &config.governance;
        let mut b = Builder {
            limiter,
            reserve: Reserve {
                critical: g.reserve.critical,
                standard: g.reserve.standard,
            },
            buckets: Vec::new(),
            charged,
        };
        let mut snap = GovSnapshot {
            required: crate::config::keys_required(config),
            ledger: g.ledger,
            end_user_header: g.end_user_header.clone(),
            generation: {
                static GENERATIONS: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(1);
                GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            ..GovSnapshot::default()
        };
        // Config first; a stored record of the same id (made by the admin API) wins.
        let mut teams: Vec<TeamRecord> = config.teams.clone();
        for t in &stored.teams {
            match teams.iter_mut().find(|c| c.id == t.id) {
                Some(c) => *c = t.clone(),
                None => teams.push(t.clone()),
            }
        }
        for t in teams {
            let rates = b.rates("team", &t.id, &t.limits);
            let budgets = b.budgets("team", &t.id, &t.budgets);
            snap.team_ids.insert(t.id.clone(), snap.teams.len());
            snap.teams.push(Team {
                record: t,
                rates,
                budgets,
            });
        }
        let mut users: Vec<EndUserRecord> = config.end_users.clone();
        for u in &stored.end_users {
            match users.iter_mut().find(|c| c.id == u.id) {
                Some(c) => *c = u.clone(),
                None => users.push(u.clone()),
            }
        }
        for u in users {
            let budgets = b.budgets("user", &u.id, &u.budgets);
            snap.end_users.insert(u.id, budgets);
        }
        let now = crate::resilience::unix_secs();
        let config_keys = super::keys::from_config(config);
        let stored_keys = stored
            .keys
            .iter()
            .filter(|k| !config_keys.iter().any(|c| c.id == k.id));
        for k in config_keys.iter().chain(stored_keys) {
            if k.revoked_at.is_some() || k.expires_at.is_some_and(|t| t <= now) {
                continue;
            }
            let Some(digest) = from_hex(&k.hash) else {
                continue;
            };
            let rates = b.rates("key", &k.id, &k.limits);
            let budgets = b.budgets("key", &k.id, &k.budgets);
            let i = snap.keys.len();
            snap.by_digest.insert(digest, i);
            snap.keys.push(Key {
                record: k.clone(),
                id_shared: k.id.as_str().into(),
                team_shared: k.team.as_deref().map(Into::into),
                team: k.team.as_ref().and_then(|t| snap.team_ids.get(t).copied()),
                rates,
                budgets,
            });
        }
        for m in &config.models {
            let rates = b.rates("model", &m.name, &m.limits);
            if rates.rpm.is_some() || rates.tpm.is_some() {
                snap.models.insert(m.name.clone(), rates);
            }
        }
        for p in &config.providers {
            let rates = b.rates("provider", &p.name, &p.limits);
            if rates.rpm.is_some() || rates.tpm.is_some() {
                snap.providers.insert(p.name.clone(), rates);
            }
        }
        snap.buckets = b.buckets;
        snap.active =
            snap.required || !snap.buckets.is_empty() || g.ledger && !snap.keys.is_empty();
        snap
    }
}

/// What the store (or Redis) holds beside the config.
#[derive(Debug, Default, Clone)]
pub struct Records {
    pub keys: Vec<KeyRecord>,
    pub teams: Vec<TeamRecord>,
    pub end_users: Vec<EndUserRecord>,
}

struct Builder<'a> {
    limiter: &'a Limiter,
    reserve: Reserve,
    buckets: Vec<Arc<Bucket>>,
    charged: &'a mut dyn FnMut(&str, Period) -> i64,
}

impl Builder<'_> {
    fn define(&mut self, id: String, capacity: i64, refill: Refill) -> u32 {
        let fresh = self.limiter.get(&id).is_none();
        let bucket = self.limiter.define(BucketSpec {
            id: id.clone(),
            capacity,
            refill,
            reserve: self.reserve,
        });
        if fresh && let Refill::Period(p) = refill {
            let already = (self.charged)(&id, p);
            if already > 0 {
                bucket.charge(already);
            }
        }
        self.buckets.push(bucket);
        (self.buckets.len() - 1) as u32
    }

    fn rates(&mut self, kind: &str, id: &str, l: &RateLimits) -> RateBuckets {
        RateBuckets {
            rpm: l
                .rpm
                .map(|n| self.define(format!("rpm:{kind}:{id}"), n as i64, Refill::PerMinute)),
            tpm: l
                .tpm
                .map(|n| self.define(format!("tpm:{kind}:{id}"), n as i64, Refill::PerMinute)),
        }
    }

    fn budgets(&mut self, kind: &str, id: &str, b: &Budgets) -> BudgetBuckets {
        let mut out = BudgetBuckets::default();
        for (slot, period) in out.0.iter_mut().zip(Period::ALL) {
            if let Some(usd) = period.limit(b) {
                *slot = Some(self.define(
                    format!("budget:{kind}:{id}:{}", period.name()),
                    super::types::usd_to_nanos(usd),
                    Refill::Period(period),
                ));
            }
        }
        out
    }
}

/// The dimension and id a budget bucket's id names (`budget:key:k1:day`).
pub fn budget_owner(bucket_id: &str) -> Option<(super::types::Dimension, &str)> {
    use super::types::Dimension;
    let rest = bucket_id.strip_prefix("budget:")?;
    let (kind, rest) = rest.split_once(':')?;
    let (id, _) = rest.rsplit_once(':')?;
    let dim = match kind {
        "key" => Dimension::Key,
        "team" => Dimension::Team,
        "user" => Dimension::EndUser,
        _ => return None,
    };
    Some((dim, id))
}

static CURRENT: Published<GovSnapshot> = Published::new();

/// Installs a new snapshot.
pub fn publish(snap: GovSnapshot) {
    CURRENT.publish(snap);
}

/// One core's hold on a governance snapshot; cloned per request without atomics.
pub type CoreGov = Core<GovSnapshot>;

/// The snapshot in force, as this core's handle (see `Published`). Before
/// any is published: an empty one.
pub fn current() -> Rc<CoreGov> {
    thread_local! {
        static LOCAL: RefCell<Option<Rc<CoreGov>>> = const { RefCell::new(None) };
        static EMPTY: Rc<CoreGov> = Rc::new(Core::new(GovSnapshot::default()));
    }
    CURRENT
        .core(&LOCAL)
        .unwrap_or_else(|| EMPTY.with(Rc::clone))
}

/// The snapshot shared by every core, for the admin API (off the request path).
pub fn shared() -> Option<Arc<GovSnapshot>> {
    CURRENT.shared().map(|c| c.load_full())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::keys::{digest_of, to_hex};

    fn snapshot(keys: &[(&str, &str)], limiter: &Limiter) -> GovSnapshot {
        let mut text = String::from(
            "[[providers]]\nname = \"local\"\nkind = \"mock\"\n\n[[models]]\nname = \"m\"\nprovider = \"local\"\n",
        );
        for (id, secret) in keys {
            let hash = to_hex(&digest_of(secret.as_bytes()));
            text.push_str(&format!(
                "\n[[keys]]\nid = \"{id}\"\nhash = \"sha256:{hash}\"\n"
            ));
        }
        let config = crate::config::load_str(&text).expect("config");
        GovSnapshot::build(&config, &Records::default(), limiter, &mut |_, _| 0)
    }

    #[test]
    fn the_last_key_looked_up_is_remembered_per_snapshot_never_across() {
        let limiter = Limiter::new(2);
        let first = snapshot(&[("a", "secret-a"), ("b", "secret-b")], &limiter);
        // The same keys in another order: the same digest, another index.
        let reordered = snapshot(&[("b", "secret-b"), ("a", "secret-a")], &limiter);
        let revoked = snapshot(&[("b", "secret-b")], &limiter);
        let a = digest_of(b"secret-a");
        let id = |s: &GovSnapshot| s.by_digest(&a).map(|k| k.record.id.clone());
        for _ in 0..2 {
            assert_eq!(id(&first).as_deref(), Some("a"));
            assert_eq!(id(&reordered).as_deref(), Some("a"));
            assert_eq!(
                id(&revoked),
                None,
                "a key revoked since is never remembered"
            );
        }
        assert_eq!(
            first
                .by_digest(&digest_of(b"secret-b"))
                .map(|k| k.record.id.as_str()),
            Some("b")
        );
        assert!(GovSnapshot::default().by_digest(&a).is_none());
    }
}
