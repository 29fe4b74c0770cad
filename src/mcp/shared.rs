//! Legacy sessions across gateway instances, through the Redis tier when
//! it is on: the instances agree on one signing secret (the first to start
//! sets it, `SET NX`; the others read it), and a session ended on one
//! instance is ended on all (a sorted set of ended nonces, scored by when
//! the session would have expired anyway). Redis is touched once at start
//! and then only by the supervisor thread, never on a request's path.

use std::sync::Mutex;

use crate::store::redis::{Redis, Value};

/// The Redis connection and key prefix, when the tier is configured.
pub struct Shared {
    redis: Mutex<Redis>,
    prefix: String,
}

impl Shared {
    pub fn from_config(config: &crate::config::Config) -> Option<Shared> {
        let r = config.governance.redis.as_ref()?;
        let target = crate::governance::tier::target_of(r).ok()?;
        Some(Shared {
            redis: Mutex::new(Redis::new(target)),
            prefix: r.prefix.clone(),
        })
    }

    fn key(&self, name: &str) -> Vec<u8> {
        format!("{}mcp:{name}", self.prefix).into_bytes()
    }

    /// The instances' common session secret: ours if we are first.
    pub fn secret(&self, ours: &str) -> Result<Vec<u8>, String> {
        let mut redis = self.redis.lock().unwrap_or_else(|p| p.into_inner());
        let key = self.key("session_secret");
        redis
            .cmd(&[b"SET", &key, ours.as_bytes(), b"NX"])
            .map_err(|e| e.to_string())?;
        match redis.cmd(&[b"GET", &key]).map_err(|e| e.to_string())? {
            Value::Bulk(b) if !b.is_empty() => Ok(b),
            _ => Err("no session secret in Redis".into()),
        }
    }

    /// Publishes sessions ended here and returns every session ended on
    /// any instance that has not yet expired: (nonce, expires_s).
    pub fn sync_ended(
        &self,
        ended_here: &[([u8; 12], u64)],
        now_s: u64,
    ) -> Result<Vec<([u8; 12], u64)>, String> {
        let mut redis = self.redis.lock().unwrap_or_else(|p| p.into_inner());
        let key = self.key("ended_sessions");
        for (nonce, until) in ended_here {
            let score = until.to_string();
            let member = hex(nonce);
            redis
                .cmd(&[b"ZADD", &key, score.as_bytes(), member.as_bytes()])
                .map_err(|e| e.to_string())?;
        }
        let now = now_s.to_string();
        redis
            .cmd(&[b"ZREMRANGEBYSCORE", &key, b"-inf", now.as_bytes()])
            .map_err(|e| e.to_string())?;
        let listed = redis
            .cmd(&[b"ZRANGE", &key, b"0", b"-1", b"WITHSCORES"])
            .map_err(|e| e.to_string())?;
        let Value::Array(items) = listed else {
            return Ok(Vec::new());
        };
        Ok(items
            .chunks(2)
            .filter_map(|pair| match pair {
                [Value::Bulk(member), Value::Bulk(score)] => {
                    let nonce = unhex(member)?;
                    let until = std::str::from_utf8(score).ok()?.parse::<f64>().ok()? as u64;
                    Some((nonce, until))
                }
                _ => None,
            })
            .collect())
    }
}

fn hex(b: &[u8]) -> String {
    crate::governance::keys::to_hex(b)
}

fn unhex(s: &[u8]) -> Option<[u8; 12]> {
    if s.len() != 24 {
        return None;
    }
    let mut out = [0u8; 12];
    for (i, pair) in s.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn nonces_round_trip_through_hex() {
        let n = [0u8, 1, 2, 254, 255, 16, 32, 64, 128, 7, 9, 11];
        assert_eq!(super::unhex(super::hex(&n).as_bytes()), Some(n));
        assert_eq!(super::unhex(b"zz"), None);
    }
}
