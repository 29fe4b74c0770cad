//! Records every instance shares through the Redis tier: keys, teams and end
//! users made through the admin API, one version number that any change
//! bumps (so instances poll one integer), and which instances are alive.

use std::sync::LazyLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::governance::types::{EndUserRecord, KeyRecord, TeamRecord};

use super::{Tier, as_slices};
use crate::store::redis::{RedisError, Script, Value};

static RECORD: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/record.lua")));
static HEARTBEAT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/heartbeat.lua")));

/// Attempts at a read-modify-write before giving up to other writers.
const MAX_SWAPS: usize = 4;

const KEYS: &str = "keys";
const TEAMS: &str = "teams";
const END_USERS: &str = "end_users";

impl Tier {
    /// Stores `key` (insert or replace by id); returns the new records version.
    pub fn put_key(&mut self, key: &KeyRecord) -> Result<i64, RedisError> {
        self.put_record(KEYS, &key.id, key)
    }

    pub fn key(&mut self, id: &str) -> Result<Option<KeyRecord>, RedisError> {
        Ok(self.record(KEYS, id)?.map(|(record, _)| record))
    }

    /// Every key, revoked ones included, ordered by id.
    pub fn keys(&mut self) -> Result<Vec<KeyRecord>, RedisError> {
        self.records(KEYS)
    }

    /// Marks the key revoked at `at_secs` (a key revoked before keeps its
    /// first time); `false` if there is no such key.
    pub fn revoke_key(&mut self, id: &str, at_secs: u64) -> Result<bool, RedisError> {
        for _ in 0..MAX_SWAPS {
            let Some((mut key, stored)) = self.record::<KeyRecord>(KEYS, id)? else {
                return Ok(false);
            };
            if key.revoked_at.is_some() {
                return Ok(true);
            }
            key.revoked_at = Some(at_secs);
            let json = to_json(&key)?;
            let args: [&[u8]; 4] = [b"swap", id.as_bytes(), json.as_bytes(), &stored];
            if self.change(KEYS, &args)? != 0 {
                return Ok(true);
            }
        }
        Err(RedisError::Contended(format!("key `{id}`")))
    }

    /// `false` if there was no such key.
    pub fn delete_key(&mut self, id: &str) -> Result<bool, RedisError> {
        self.delete_record(KEYS, id)
    }

    pub fn put_team(&mut self, team: &TeamRecord) -> Result<i64, RedisError> {
        self.put_record(TEAMS, &team.id, team)
    }

    pub fn team(&mut self, id: &str) -> Result<Option<TeamRecord>, RedisError> {
        Ok(self.record(TEAMS, id)?.map(|(record, _)| record))
    }

    pub fn teams(&mut self) -> Result<Vec<TeamRecord>, RedisError> {
        self.records(TEAMS)
    }

    pub fn delete_team(&mut self, id: &str) -> Result<bool, RedisError> {
        self.delete_record(TEAMS, id)
    }

    pub fn put_end_user(&mut self, user: &EndUserRecord) -> Result<i64, RedisError> {
        self.put_record(END_USERS, &user.id, user)
    }

    pub fn end_user(&mut self, id: &str) -> Result<Option<EndUserRecord>, RedisError> {
        Ok(self.record(END_USERS, id)?.map(|(record, _)| record))
    }

    pub fn end_users(&mut self) -> Result<Vec<EndUserRecord>, RedisError> {
        self.records(END_USERS)
    }

    pub fn delete_end_user(&mut self, id: &str) -> Result<bool, RedisError> {
        self.delete_record(END_USERS, id)
    }

    /// Bumped by every change to any record: 0 before the first.
    pub fn records_version(&mut self) -> Result<i64, RedisError> {
        let key = self.redis_key(&["records", "version"]);
        self.redis
            .cmd(&[b"GET", &key])?
            .to_i64()
            .ok_or_else(|| RedisError::Unexpected("the records version: not an integer".into()))
    }

    /// Says `instance_id` is alive for `ttl_ms` more (by Redis's clock);
    /// returns how many instances are alive, this one included.
    pub fn heartbeat(&mut self, instance_id: &str, ttl_ms: u64) -> Result<u64, RedisError> {
        let key = self.redis_key(&["instances"]);
        let ttl = ttl_ms.to_string();
        let reply = self.redis.eval(
            &HEARTBEAT,
            &[&key],
            &[instance_id.as_bytes(), ttl.as_bytes()],
        )?;
        reply
            .as_int()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| RedisError::Unexpected("the heartbeat script: not a count".into()))
    }

    fn put_record<T: Serialize>(
        &mut self,
        kind: &str,
        id: &str,
        record: &T,
    ) -> Result<i64, RedisError> {
        let json = to_json(record)?;
        self.change(kind, &[b"put", id.as_bytes(), json.as_bytes()])
    }

    fn delete_record(&mut self, kind: &str, id: &str) -> Result<bool, RedisError> {
        Ok(self.change(kind, &[b"delete", id.as_bytes()])? != 0)
    }

    /// Runs the record script; returns the new version, 0 if nothing changed.
    fn change(&mut self, kind: &str, args: &[&[u8]]) -> Result<i64, RedisError> {
        let keys = [
            self.redis_key(&[kind]),
            self.redis_key(&["records", "version"]),
        ];
        self.redis
            .eval(&RECORD, &as_slices(&keys), args)?
            .as_int()
            .ok_or_else(|| RedisError::Unexpected("the record script: not an integer".into()))
    }

    /// The record and the JSON it was read from (for a compare-and-set).
    fn record<T: DeserializeOwned>(
        &mut self,
        kind: &str,
        id: &str,
    ) -> Result<Option<(T, Vec<u8>)>, RedisError> {
        let key = self.redis_key(&[kind]);
        match self.redis.cmd(&[b"HGET", &key, id.as_bytes()])? {
            Value::Nil => Ok(None),
            Value::Bulk(stored) => Ok(Some((from_json(kind, id, stored.clone())?, stored))),
            _ => Err(RedisError::Unexpected("HGET: not a string".into())),
        }
    }

    fn records<T: DeserializeOwned>(&mut self, kind: &str) -> Result<Vec<T>, RedisError> {
        let key = self.redis_key(&[kind]);
        let flat = self
            .redis
            .cmd(&[b"HGETALL", &key])?
            .into_array()
            .ok_or_else(|| RedisError::Unexpected("HGETALL: not an array".into()))?;
        let mut pairs = Vec::with_capacity(flat.len() / 2);
        let mut items = flat.into_iter();
        while let (Some(Value::Bulk(id)), Some(Value::Bulk(json))) = (items.next(), items.next()) {
            let id = String::from_utf8_lossy(&id).into_owned();
            let record = from_json(kind, &id, json)?;
            pairs.push((id, record));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(pairs.into_iter().map(|(_, record)| record).collect())
    }
}

fn to_json<T: Serialize>(record: &T) -> Result<String, RedisError> {
    simd_json::serde::to_string(record)
        .map_err(|e| RedisError::Invalid(format!("a record that will not encode: {e}")))
}

fn from_json<T: DeserializeOwned>(
    kind: &str,
    id: &str,
    mut json: Vec<u8>,
) -> Result<T, RedisError> {
    simd_json::serde::from_slice(&mut json)
        .map_err(|e| RedisError::Unexpected(format!("{kind} `{id}` is not a valid record: {e}")))
}
