//! Governance's process-wide side, all off the request path: the embedded
//! store, the ledger writer, the limiter's aggregator thread, the Redis
//! tier, and the admin tokens. Started once by `serve`, reconfigured on
//! reload; every change to keys, teams or end users publishes a new
//! [`GovSnapshot`](super::state::GovSnapshot) to every core.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::admin::AdminToken;
use super::keys::{digest_of, from_hex};
use super::limits::{Limiter, LocalSource, Source};
use super::state::{GovSnapshot, Records, publish};
use super::types::{
    AuditEntry, Dimension, EndUserRecord, KeyRecord, LedgerRow, Period, SpendRow, TeamRecord,
};
use crate::config::Config;
use crate::store::{LedgerSender, LedgerWriter, Store};

pub struct Runtime {
    config: ArcSwap<Config>,
    pub limiter: Arc<Limiter>,
    /// Shared by the admin API and the ledger writer (which holds it only
    /// while it commits a batch).
    store: Option<Arc<Mutex<Store>>>,
    ledger: Option<LedgerWriter>,
    sender: Option<LedgerSender>,
    redis: Option<Arc<super::tier::TierHandle>>,
    tokens: ArcSwap<Vec<AdminToken>>,
    records: Mutex<Records>,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

pub fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// Whether a config asks for anything that needs the store: keys, admin
/// tokens, teams, end users, limits, budgets or the Redis tier.
pub fn needs_store(c: &Config) -> bool {
    crate::config::keys_required(c)
        || !c.teams.is_empty()
        || !c.end_users.is_empty()
        || c.models.iter().any(|m| !m.limits.is_empty())
        || c.providers.iter().any(|p| !p.limits.is_empty())
        || c.governance.redis.is_some()
}

/// Starts governance for `config`: opens the store, starts the ledger
/// writer and the aggregator, publishes the first snapshot.
pub fn start(config: &Config, workers: usize) -> Result<(), String> {
    let limiter = Limiter::new(workers + 2);
    let uses_store = needs_store(config);
    let store = if uses_store {
        let path = Path::new(&config.governance.store);
        let s = Store::open(path)
            .map_err(|e| format!("cannot open the store {}: {e}", path.display()))?;
        Some(Arc::new(Mutex::new(s)))
    } else {
        None
    };
    let redis = match &config.governance.redis {
        Some(_) => Some(Arc::new(super::tier::TierHandle::connect(config)?)),
        None => None,
    };
    let source: Box<dyn Source> = match &redis {
        Some(tier) => tier.source(),
        None => Box::new(LocalSource::new()),
    };
    let every = Duration::from_millis(config.governance.aggregator_interval_ms);
    let _ = limiter.spawn(source, every);
    // With the Redis tier on, each committed batch is handed to the tier's
    // thread, which also tails the store's ledger whenever a hand-off is
    // missing: what is written while Redis is away reaches it later.
    let hook: crate::store::ledger_writer::OnCommit = match &redis {
        Some(tier) => tier.commit_hook(),
        None => Box::new(|_| {}),
    };
    let ledger = match (&store, config.governance.ledger) {
        (Some(s), true) => Some(
            LedgerWriter::spawn(s.clone(), Default::default(), hook)
                .map_err(|e| format!("cannot start the ledger writer: {e}"))?,
        ),
        _ => None,
    };
    let sender = ledger.as_ref().map(LedgerWriter::sender);
    let rt = Runtime {
        config: ArcSwap::from_pointee(config.clone()),
        limiter,
        store,
        ledger,
        sender,
        redis,
        tokens: ArcSwap::from_pointee(admin_tokens(config)),
        records: Mutex::new(Records::default()),
    };
    if RUNTIME.set(rt).is_err() {
        return Err("governance started twice".into());
    }
    let rt = get().expect("set above");
    rt.reload_records();
    if let Some(tier) = &rt.redis {
        tier.spawn_sync();
    }
    Ok(())
}

/// The admin tokens a config declares, resolved to digests. One that
/// cannot be read is left out (reported, never printed).
fn admin_tokens(config: &Config) -> Vec<AdminToken> {
    let mut out = Vec::new();
    for t in &config.admin.tokens {
        let digest = match (&t.token, &t.hash) {
            (_, Some(h)) => crate::config::parse_hash(h).and_then(|h| from_hex(&h)),
            (Some(r), None) => match crate::router::read_secret(r) {
                Ok(s) => Some(digest_of(s.expose().trim().as_bytes())),
                Err(e) => {
                    eprintln!("tollgate: admin token `{}` is disabled: {e}", t.name);
                    None
                }
            },
            (None, None) => None,
        };
        if let Some(digest) = digest {
            out.push(AdminToken {
                name: t.name.clone(),
                digest,
                scopes: t.scopes.clone(),
            });
        }
    }
    out
}

/// Reload: the new config's keys, teams, limits and admin tokens.
pub fn reconfigure(config: &Config) {
    if let Some(rt) = get() {
        rt.config.store(Arc::new(config.clone()));
        rt.tokens.store(Arc::new(admin_tokens(config)));
        rt.rebuild();
    }
}

/// Queues a core's ledger rows (never blocks; a full queue drops them and
/// counts the drop).
pub fn record_spend(rows: Vec<LedgerRow>) {
    if let Some(sender) = get().and_then(|rt| rt.sender.as_ref()) {
        let _ = sender.send_batch(rows);
    }
}

impl Runtime {
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    pub fn has_ledger(&self) -> bool {
        self.sender.is_some()
    }

    pub fn admin_tokens(&self) -> Arc<Vec<AdminToken>> {
        self.tokens.load_full()
    }

    pub fn records(&self) -> Records {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Re-reads the stored records (Redis when the tier is on, else the
    /// store) and publishes a fresh snapshot.
    pub fn reload_records(&self) {
        let fresh = match (&self.redis, &self.store) {
            (Some(tier), _) => tier.records(),
            (None, Some(store)) => store.lock().ok().and_then(|s| {
                Some(Records {
                    keys: s.keys().ok()?,
                    teams: s.teams().ok()?,
                    end_users: s.end_users().ok()?,
                })
            }),
            (None, None) => Some(Records::default()),
        };
        match fresh {
            Some(r) => {
                if let Ok(mut mine) = self.records.lock() {
                    *mine = r;
                }
            }
            None => eprintln!(
                "tollgate: governance: could not read the stored keys; keeping the last ones"
            ),
        }
        self.rebuild();
    }

    /// Publishes a snapshot of the config and the records held now.
    pub fn rebuild(&self) {
        let config = self.config();
        let records = self.records();
        let day = (crate::resilience::unix_secs() / 86_400) as i64;
        let mut charged = |bucket_id: &str, period: Period| -> i64 {
            let Some((dim, id)) = super::state::budget_owner(bucket_id) else {
                return 0;
            };
            // Redis holds the shared budgets itself; the store only this instance's past.
            if self.redis.is_some() {
                return 0;
            }
            self.charged(dim, id, period, day).unwrap_or(0)
        };
        let snap = GovSnapshot::build(&config, &records, &self.limiter, &mut charged);
        publish(snap);
        // A bucket just defined is empty until the aggregator's next pass.
        self.limiter.await_passes(2);
    }

    pub(crate) fn audit(&self, actor: &str, action: &str, target: &str, detail: String) {
        let entry = AuditEntry {
            ts_ms: crate::resilience::unix_millis(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        };
        eprintln!(
            "tollgate: admin: {} by `{}` on `{}`",
            entry.action, entry.actor, entry.target
        );
        if let Some(store) = &self.store
            && let Ok(s) = store.lock()
            && let Err(e) = s.audit(&entry)
        {
            eprintln!("tollgate: admin: the audit entry could not be stored: {e}");
        }
    }

    fn with_store<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, String> {
        let store = self.store.as_ref().ok_or("no store is configured")?;
        let s = store.lock().map_err(|_| "the store is unavailable")?;
        f(&s).map_err(|e| e.to_string())
    }

    /// Stores a key (store, and Redis when on), records the action, and
    /// publishes it to every core before answering.
    pub fn put_key(&self, k: &KeyRecord, actor: &str, action: &str) -> Result<(), String> {
        self.with_store(|s| s.put_key(k))?;
        if let Some(tier) = &self.redis {
            tier.put_key(k)?;
        }
        if let Ok(mut r) = self.records.lock() {
            match r.keys.iter_mut().find(|x| x.id == k.id) {
                Some(x) => *x = k.clone(),
                None => r.keys.push(k.clone()),
            }
        }
        self.audit(actor, action, &k.id, describe_key(k));
        self.rebuild();
        Ok(())
    }

    pub fn put_team(&self, t: &TeamRecord, actor: &str) -> Result<(), String> {
        self.with_store(|s| s.put_team(t))?;
        if let Some(tier) = &self.redis {
            tier.put_team(t)?;
        }
        if let Ok(mut r) = self.records.lock() {
            r.teams.retain(|x| x.id != t.id);
            r.teams.push(t.clone());
        }
        self.audit(
            actor,
            "team.put",
            &t.id,
            format!("limits {:?}, budgets {:?}", t.limits, t.budgets),
        );
        self.rebuild();
        Ok(())
    }

    pub fn put_end_user(&self, u: &EndUserRecord, actor: &str) -> Result<(), String> {
        self.with_store(|s| s.put_end_user(u))?;
        if let Some(tier) = &self.redis {
            tier.put_end_user(u)?;
        }
        if let Ok(mut r) = self.records.lock() {
            r.end_users.retain(|x| x.id != u.id);
            r.end_users.push(u.clone());
        }
        self.audit(
            actor,
            "end_user.put",
            &u.id,
            format!("budgets {:?}", u.budgets),
        );
        self.rebuild();
        Ok(())
    }

    pub fn delete_record(&self, what: &str, id: &str, actor: &str) -> Result<bool, String> {
        let found = match what {
            "team" => self.with_store(|s| s.delete_team(id))?,
            _ => self.with_store(|s| s.delete_end_user(id))?,
        };
        if let Some(tier) = &self.redis {
            tier.delete_record(what, id)?;
        }
        if let Ok(mut r) = self.records.lock() {
            match what {
                "team" => r.teams.retain(|x| x.id != id),
                _ => r.end_users.retain(|x| x.id != id),
            }
        }
        if found {
            self.audit(actor, &format!("{what}.delete"), id, String::new());
            self.rebuild();
        }
        Ok(found)
    }

    /// Waits until every ledger row queued so far is committed.
    pub fn flush_ledger(&self) {
        super::ledger::flush_local();
        if let Some(l) = &self.ledger {
            let _ = l.flush();
        }
    }

    pub fn spend(
        &self,
        dim: Dimension,
        id: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<SpendRow>, String> {
        self.flush_ledger();
        if let Some(tier) = &self.redis
            && let Ok(rows) = tier.spend(dim, id, from, to)
        {
            return Ok(rows);
        }
        self.with_store(|s| s.spend(dim, id, from, to))
    }

    pub fn charged(
        &self,
        dim: Dimension,
        id: &str,
        period: Period,
        day: i64,
    ) -> Result<i64, String> {
        if let Some(tier) = &self.redis
            && let Ok(n) = tier.charged(dim, id, period, day)
        {
            return Ok(n);
        }
        self.with_store(|s| s.charged(dim, id, period, day))
    }

    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, String> {
        self.with_store(|s| s.audit_log(limit))
    }
}

/// An audit line's detail: what a key may do, never its hash.
fn describe_key(k: &KeyRecord) -> String {
    format!(
        "team {:?}, models {:?}, limits {:?}, budgets {:?}, priority {}, revoked {:?}",
        k.team,
        k.models,
        k.limits,
        k.budgets,
        k.priority.name(),
        k.revoked_at
    )
}

/// The ledger's gauges for `/metrics`: rows dropped because the writer's
/// queue was full or the store refused them for too long.
pub fn metrics_text() -> String {
    let Some(ledger) = get().and_then(|rt| rt.ledger.as_ref()) else {
        return String::new();
    };
    format!(
        "# TYPE tollgate_ledger_rows_dropped_total counter\ntollgate_ledger_rows_dropped_total {}\n",
        ledger.dropped()
    )
}
