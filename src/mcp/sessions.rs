//! Legacy-era (2025-03-26 … 2025-11-25) sessions. A session id is signed
//! (`wire::session`): any core — and any instance sharing the secret —
//! checks it without shared state, and it names the key that opened it,
//! so another key cannot use it. Ended sessions are remembered until they
//! would have expired anyway, in a set every core reads through `ArcSwap`
//! (written only by DELETE, off every other request's path).

use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::shared::Shared;
use super::wire::session::{Claims, Signer, subject_of};
use super::wire::state::StateSigner;

pub struct Sessions {
    signer: Signer,
    /// Seals multi-round-trip `requestState`s under the same secret, so a
    /// retry is served on any core and instance that serves the session.
    states: StateSigner,
    ttl_s: u64,
    /// Ended sessions' nonces → when they would have expired.
    ended: ArcSwap<FxHashMap<[u8; 12], u64>>,
    /// Ended here and not yet told to the other instances.
    unshared: Mutex<Vec<([u8; 12], u64)>>,
    shared: Option<Shared>,
}

/// Why a presented session id is not served (404 for all of them: a
/// session of another key is "not found" to this one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Expired,
    Ended,
    OtherKey,
}

impl Sessions {
    pub fn new(secret: &[u8], ttl_s: u64) -> Sessions {
        Sessions {
            signer: Signer::new(secret),
            states: StateSigner::new(secret),
            ttl_s,
            ended: ArcSwap::from_pointee(FxHashMap::default()),
            unshared: Mutex::new(Vec::new()),
            shared: None,
        }
    }

    /// A new session for `who` (the key's id, or the OAuth subject).
    pub fn open(&self, who: &str, version: &'static str, caps: u8, now_s: u64) -> Option<String> {
        let mut nonce = [0u8; 12];
        fill_random(&mut nonce);
        self.signer.mint(&Claims {
            subject: subject_of(who),
            version,
            caps,
            created_s: now_s,
            nonce,
        })
    }

    /// The session `id` names, if it is live and `who` opened it.
    pub fn check(&self, id: &str, who: &str, now_s: u64) -> Result<Claims, Refused> {
        let claims = self.signer.verify(id).ok_or(Refused::Unknown)?;
        if claims.created_s.saturating_add(self.ttl_s) <= now_s {
            return Err(Refused::Expired);
        }
        if self.ended.load().contains_key(&claims.nonce) {
            return Err(Refused::Ended);
        }
        if claims.subject != subject_of(who) {
            return Err(Refused::OtherKey);
        }
        Ok(claims)
    }

    /// The sealer of multi-round-trip request states.
    pub fn states(&self) -> &StateSigner {
        &self.states
    }

    /// Ends a session; later requests with it get 404.
    pub fn end(&self, claims: &Claims, now_s: u64) {
        let until = claims.created_s.saturating_add(self.ttl_s);
        let mut unshared = self.unshared.lock().unwrap_or_else(|p| p.into_inner());
        self.merge(&[(claims.nonce, until)], now_s);
        if self.shared.is_some() {
            unshared.push((claims.nonce, until));
        }
    }

    /// Adds `ended` to the set (the caller holds `unshared`, which
    /// serializes writers), dropping entries past their expiry.
    fn merge(&self, ended: &[([u8; 12], u64)], now_s: u64) {
        let mut next: FxHashMap<[u8; 12], u64> = (**self.ended.load())
            .iter()
            .filter(|(_, until)| **until > now_s)
            .map(|(k, v)| (*k, *v))
            .collect();
        next.extend(ended.iter().copied());
        self.ended.store(Arc::new(next));
    }

    /// With the Redis tier: tells the other instances of sessions ended
    /// here and learns of theirs. The supervisor calls it each round.
    pub fn sync(&self, now_s: u64) {
        let Some(shared) = &self.shared else { return };
        let mine: Vec<_> =
            std::mem::take(&mut *self.unshared.lock().unwrap_or_else(|p| p.into_inner()));
        match shared.sync_ended(&mine, now_s) {
            Ok(all) => {
                let _w = self.unshared.lock().unwrap_or_else(|p| p.into_inner());
                self.merge(&all, now_s);
            }
            Err(_) => {
                // Redis away: keep ours for the next round.
                self.unshared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(mine);
            }
        }
    }
}

fn fill_random(out: &mut [u8]) {
    use ring::rand::SecureRandom;
    // The system RNG failing is not survivable for ids; fall back to a
    // hash of time and counter rather than panicking on a request.
    if ring::rand::SystemRandom::new().fill(out).is_err() {
        let seed = crate::router::health::random_u64().to_le_bytes();
        for (i, b) in out.iter_mut().enumerate() {
            *b = seed[i % 8] ^ (i as u8);
        }
    }
}

static SESSIONS: OnceLock<Sessions> = OnceLock::new();

/// Makes the process's sessions from the config: the configured secret,
/// else (with the Redis tier) the instances' shared one, else a random
/// one of this process. Called at start, before any request.
pub fn init(config: &crate::config::Config) {
    SESSIONS.get_or_init(|| build(config));
}

/// The process's sessions.
pub fn get() -> &'static Sessions {
    SESSIONS.get_or_init(|| build(&crate::router::current().config))
}

fn build(config: &crate::config::Config) -> Sessions {
    let mcp = &config.mcp;
    let shared = Shared::from_config(config);
    let configured = mcp
        .session_secret
        .as_deref()
        .and_then(|r| crate::router::read_secret(r).ok())
        .map(|s| s.expose().as_bytes().to_vec());
    let mut ours = [0u8; 32];
    fill_random(&mut ours);
    let from_redis = || {
        let shared = shared.as_ref()?;
        match shared.secret(&crate::governance::keys::to_hex(&ours)) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("tollgate: mcp: sessions are this instance's only (Redis: {e})");
                None
            }
        }
    };
    let secret = configured
        .or_else(from_redis)
        .unwrap_or_else(|| ours.to_vec());
    let mut sessions = Sessions::new(&secret, mcp.session_ttl_secs);
    sessions.shared = shared;
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_serves_only_its_key_until_it_ends_or_expires() {
        let s = Sessions::new(b"secret", 100);
        let id = s.open("key-a", "2025-11-25", 0, 1000).unwrap();
        assert_eq!(s.check(&id, "key-a", 1050).unwrap().version, "2025-11-25");
        assert_eq!(s.check(&id, "key-b", 1050).unwrap_err(), Refused::OtherKey);
        assert_eq!(s.check(&id, "key-a", 1100).unwrap_err(), Refused::Expired);
        assert_eq!(
            s.check("nonsense", "key-a", 1050).unwrap_err(),
            Refused::Unknown
        );
        let claims = s.check(&id, "key-a", 1050).unwrap();
        s.end(&claims, 1050);
        assert_eq!(s.check(&id, "key-a", 1051).unwrap_err(), Refused::Ended);
        let other = s.open("key-a", "2025-11-25", 0, 1000).unwrap();
        assert!(s.check(&other, "key-a", 1051).is_ok());
    }

    #[test]
    fn another_instance_with_the_same_secret_accepts_the_session() {
        let a = Sessions::new(b"shared", 100);
        let b = Sessions::new(b"shared", 100);
        let id = a.open("k", "2025-06-18", 0, 5).unwrap();
        assert!(b.check(&id, "k", 6).is_ok());
        let c = Sessions::new(b"other", 100);
        assert_eq!(c.check(&id, "k", 6).unwrap_err(), Refused::Unknown);
    }
}
