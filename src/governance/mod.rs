//! Governance: gateway keys and teams, budgets and spend, rate limits.
//! `types` holds the records every part shares.

pub mod limits;
pub mod types;
