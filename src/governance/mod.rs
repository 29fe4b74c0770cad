//! Governance: gateway keys and teams, budgets and spend, rate limits.
//! `types` holds the records every part shares; `state` the snapshot a
//! request reads; `enforce` what a request does with it; `rollup` a ledger batch summed
//! per dimension, id and day; `runtime` and
//! `tier` what runs beside the workers (store, ledger, aggregator, Redis);
//! `admin` the admin API.

pub mod admin;
pub mod cost;
pub mod enforce;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod rollup;
pub mod runtime;
pub mod state;
pub mod tier;
pub mod types;
