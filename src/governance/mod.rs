//! Governance: gateway keys and teams, budgets and spend, rate limits.
//! `types` holds the records every part shares; `state` the snapshot a
//! request reads; `enforce` what a request does with it; `runtime` and
//! `tier` what runs beside the workers (store, ledger, aggregator, Redis);
//! `admin` the admin API.

pub mod admin;
pub mod cost;
pub mod enforce;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod runtime;
pub mod state;
pub mod tier;
pub mod types;
