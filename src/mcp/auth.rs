//! Who an `/mcp` request is: a gateway key (as on every other route), or
//! — with `[mcp.oauth]` — a JWT the configured authorization server issued
//! for this resource. Either way the credential stays here: upstreams get
//! the server's own configured credentials, never the client's.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::endpoint::Identity;
use super::oauth::{Claims, OAuth, TokenError, looks_like_jwt};
use crate::api::ApiError;
use crate::governance::state::GovSnapshot;

type Built = Option<(u64, Option<Arc<OAuth>>)>;

thread_local! {
    /// This core's copy of the verifier, and the tokens it verified.
    static LOCAL: RefCell<(Built, Verified)> = RefCell::default();
}

/// The OAuth verifier of the current config, built once per generation
/// (process-wide, under a lock), then held per core (no lock per request).
pub fn oauth() -> Option<Arc<OAuth>> {
    let generation = crate::router::current().generation;
    let local = LOCAL.with(|l| match &l.borrow().0 {
        Some((g, built)) if *g == generation => Some(built.clone()),
        _ => None,
    });
    if let Some(built) = local {
        return built;
    }
    let built = build();
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.0 = Some((generation, built.clone()));
        l.1 = Verified::default();
    });
    built
}

fn build() -> Option<Arc<OAuth>> {
    static CACHE: Mutex<Built> = Mutex::new(None);
    let snapshot = crate::router::current();
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((generation, built)) = &*cache
        && *generation == snapshot.generation
    {
        return built.clone();
    }
    let built = snapshot
        .config
        .mcp
        .oauth
        .as_ref()
        .and_then(|c| match OAuth::from_config(c) {
            Ok(o) => Some(Arc::new(o)),
            Err(e) => {
                eprintln!("tollgate: mcp: oauth is off: {e}");
                None
            }
        });
    *cache = Some((snapshot.generation, built.clone()));
    built
}

/// The caller of `/mcp`, or the 401/403 to answer with.
pub fn identify(gov: &GovSnapshot, presented: Option<&[u8]>) -> Result<Identity, ApiError> {
    let snapshot = crate::router::current();
    let mcp = &snapshot.config.mcp;
    let token = presented.and_then(|p| std::str::from_utf8(p).ok());
    if let (Some(oauth), Some(token)) = (oauth(), token)
        && looks_like_jwt(token)
    {
        let claims =
            validate(&oauth, token, crate::resilience::unix_secs()).map_err(|e| token_error(&e))?;
        let team_policy = mcp
            .oauth
            .as_ref()
            .and_then(|o| o.team.as_deref())
            .and_then(|t| gov.team(t))
            .and_then(|t| t.record.tool_policy.clone());
        let policy = mcp
            .oauth
            .as_ref()
            .and_then(|o| o.tool_policy.clone())
            .or(team_policy)
            .or_else(|| mcp.tool_policy.clone());
        return Ok(Identity {
            who: format!("oauth:{}#{}", claims.issuer, claims.subject),
            key_id: None,
            policy,
        });
    }
    let needs_credential = gov.required || mcp.oauth.is_some();
    match crate::gateway::key_of(gov, presented)? {
        Some(key) => {
            let policy = key
                .tool_policy
                .clone()
                .or_else(|| gov.team_of(key).and_then(|t| t.record.tool_policy.clone()))
                .or_else(|| mcp.tool_policy.clone());
            Ok(Identity {
                who: key.id.clone(),
                key_id: Some(key.id.clone()),
                policy,
            })
        }
        None if needs_credential => Err(unauthorized(
            "Missing or unknown credential. Send `Authorization: Bearer <key or token>`.",
        )),
        None => Ok(Identity {
            who: "anonymous".into(),
            key_id: None,
            policy: mcp.tool_policy.clone(),
        }),
    }
}

/// Tokens this core verified under the current verifier, until they
/// expire: a client presents the same token on every request (and the
/// head and the request each identify it), and a signature check costs
/// far more than the rest of a call. Bounded: full, forgotten whole.
#[derive(Default)]
struct Verified {
    tokens: FxHashMap<u64, (Box<str>, Claims)>,
}

const VERIFIED_MAX: usize = 1024;

impl Verified {
    fn get(&self, token: &str, now_s: u64) -> Option<Claims> {
        let (t, claims) = self.tokens.get(&hash(token))?;
        (&**t == token && claims.expires_s > now_s).then(|| claims.clone())
    }

    fn put(&mut self, token: &str, claims: &Claims) {
        if self.tokens.len() >= VERIFIED_MAX {
            self.tokens.clear();
        }
        self.tokens
            .insert(hash(token), (token.into(), claims.clone()));
    }
}

fn hash(token: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(token)
}

/// [`OAuth::validate`] through this core's memo of verified tokens.
fn validate(oauth: &OAuth, token: &str, now_s: u64) -> Result<Claims, TokenError> {
    if let Some(claims) = LOCAL.with(|l| l.borrow().1.get(token, now_s)) {
        return Ok(claims);
    }
    let claims = oauth.validate(token, now_s)?;
    LOCAL.with(|l| l.borrow_mut().1.put(token, &claims));
    Ok(claims)
}

fn unauthorized(text: &str) -> ApiError {
    ApiError::coded(
        401,
        "invalid_request_error",
        "invalid_api_key",
        text.to_owned(),
    )
}

fn token_error(e: &TokenError) -> ApiError {
    ApiError::coded(
        e.status(),
        "invalid_request_error",
        e.code(),
        format!("The bearer token was refused: {}.", e.code()),
    )
}

/// The `WWW-Authenticate` value a refused `/mcp` request carries: with
/// OAuth on, where the resource metadata is and, for a refused token, why
/// (the token is checked again: refusals are rare and carry no state).
pub fn challenge(presented: Option<&[u8]>) -> String {
    let Some(o) = oauth() else {
        return "Bearer".to_owned();
    };
    let refused = presented
        .and_then(|p| std::str::from_utf8(p).ok())
        .filter(|t| looks_like_jwt(t))
        .and_then(|t| o.validate(t, crate::resilience::unix_secs()).err());
    o.challenge(refused.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_s: u64) -> Claims {
        Claims {
            subject: "s".into(),
            client_id: None,
            scopes: vec![],
            expires_s,
            issuer: "i".into(),
        }
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let mut v = Verified::default();
        v.put("tok-a", &claims(100));
        assert_eq!(v.get("tok-a", 99), Some(claims(100)));
        assert_eq!(
            v.get("tok-a", 100),
            None,
            "expired: verified again (and refused)"
        );
        assert_eq!(v.get("tok-b", 50), None);
        for i in 0..VERIFIED_MAX {
            v.put(&format!("t{i}"), &claims(100));
        }
        assert!(v.tokens.len() <= VERIFIED_MAX);
    }
}
